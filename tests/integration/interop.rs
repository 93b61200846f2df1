//! The Parquet tree is plain, hive-partitioned Parquet: DuckDB (Python package) reads it and
//! agrees with obsq on the counts per stream and date.

use std::process::Command;

use crate::util::Env;

#[test]
fn duckdb_reads_the_tree_and_counts_match() {
    let env = Env::new();
    let src = env.path("src");
    env.run_ok(
        &[
            "generate",
            "--rows",
            "20000",
            "--seed",
            "3",
            "--days",
            "6",
            "--end",
            "2026-11-28",
            "--out",
            src.to_str().unwrap(),
        ],
        0,
    );
    env.run_ok(&["ingest", "--source", src.to_str().unwrap()], 0);
    for table in [
        "skill_invocations",
        "cuj_runs",
        "progress_events",
        "provider_calls",
    ] {
        let ours = env.csv_rows(&format!(
            "SELECT date, count(*) FROM {table} GROUP BY date ORDER BY date"
        ));
        let glob = env.root().join("data").join(table).join("*/*.parquet");
        let script = format!(
            "import duckdb\nfor d, n in duckdb.sql(\"SELECT strftime(date, '%Y-%m-%d'), count(*) FROM read_parquet('{}', hive_partitioning=true) GROUP BY 1 ORDER BY 1\").fetchall():\n    print(f'{{d}},{{n}}')",
            glob.display()
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "DuckDB failed (install it with `python3 -m pip install duckdb`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "{table}");
    }
}
