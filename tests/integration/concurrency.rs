//! Many concurrent `obsq record` processes: nothing torn, nothing lost.

use crate::util::Env;

#[test]
fn eight_processes_times_two_thousand_records() {
    let env = Env::new();
    let per_proc = 2000;
    std::thread::scope(|s| {
        for w in 0..8 {
            let env = &env;
            s.spawn(move || {
                for i in 0..per_proc {
                    let status = env
                        .cmd(&[
                            "record",
                            "cuj",
                            "--cuj-id",
                            &format!("CUJ-{w}"),
                            "--success",
                            if i % 7 == 0 { "false" } else { "true" },
                            "--duration-ms",
                            &format!("{}", 100 + i),
                            "--error",
                            &"long error text ".repeat(i % 40),
                        ])
                        .status()
                        .expect("spawn");
                    assert!(status.success());
                }
            });
        }
    });
    // Exit code 0: no line was quarantined (a torn line would be).
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("cuj_runs", false), 8 * per_proc as u64);
    let per_cuj =
        env.csv_rows("SELECT cuj_id, count(*) FROM cuj_runs GROUP BY cuj_id ORDER BY cuj_id");
    let want: Vec<String> = (0..8).map(|w| format!("CUJ-{w},{per_proc}")).collect();
    assert_eq!(per_cuj, want);
}
