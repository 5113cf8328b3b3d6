"""Helpers for the run-inspection notebooks: pure functions over a run directory's tables.

Everything here reads a run directory (see corpus.rundir) and returns pandas objects or plain
data; the plotting helpers draw on a matplotlib axis they are given. Nothing starts Spark.

    run         load_funnel, load_stage, load_report, committed_stages, run_config, default_run_dir
    funnel      funnel_frames, drops_per_rule: per stage, per source+lang, per drop reason
    signals     signals_frame, main_signals, signal_histogram, score_histogram
    thresholds  rules_dir_for, rule_thresholds, all_thresholds: the rule sets' thresholds
    samples     dropped_samples, preview: a seeded sample of dropped documents per rule
    plots       plot_histogram, plot_cluster_sizes, setup_cjk_font (Noto CJK for Chinese)
    dedup       dedup_funnel, layout_frame, dedup_clusters, cluster_sizes, pick_clusters, hamming
    diff        diff_tokens, diff_marks, side_by_side_html: duplicates in columns, diffs marked
    decontam    the decontaminate stage: its funnel, report tables, matches, contaminated docs
    topics      the balance stage: cells, mix before/after, topics per source, examples per topic,
                shards, the topic classifier's confusion matrix and per-topic precision/recall
"""
