use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::promqltest::{RunOptions, run_text, summary};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = std::env::var("V").is_ok();
    let engine = Engine::new(EngineOptions::promqltest());
    let mut reports = Vec::new();
    for f in &args {
        let text = std::fs::read_to_string(f).unwrap();
        let name = std::path::Path::new(f).file_name().unwrap().to_string_lossy().to_string();
        let r = run_text(&name, &text, &engine, &RunOptions::default());
        if verbose {
            for o in &r.outcomes {
                if let Some(fail) = &o.failure {
                    println!(
                        "FAIL {}:{} {}\n    {}",
                        name,
                        o.line,
                        o.expr,
                        fail.chars().take(400).collect::<String>()
                    );
                }
            }
        }
        reports.push(r);
    }
    print!("{}", summary(&reports));
}
