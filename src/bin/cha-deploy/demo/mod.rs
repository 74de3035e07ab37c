//! `cha-deploy demo`: weeks of a real rollout of intelligent pipe sizing,
//! simulated in seconds on a scratch database (or `--db`), ending with the
//! analysis of the A/B test, a short summary and the HTML deployment
//! report.
//!
//! - [`network`]: the sample district-heating network (from the seed);
//! - [`sizing`]: pipe sizing, pure and unit-tested: mass flow, velocity,
//!   Darcy–Weisbach with Colebrook–White or Swamee–Jain, the DN series;
//! - [`simulation`]: the rollout, week by week, on the library with a
//!   simulated clock;
//! - [`progress`]: a progress bar on a terminal, plain lines otherwise.

mod network;
mod progress;
mod rng;
mod simulation;
mod sizing;

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use cha_deploy::{Cha, Error, OpenOptions, ReportFormat};

use crate::output::{Output, percent};
use simulation::{Arm, Outcome, Settings, Simulation, TEST};

#[derive(Args)]
pub struct DemoArgs {
    /// Seed of the network, the engineers and everything they do.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Weeks of rollout to simulate.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=26))]
    weeks: u32,
    /// Engineers who size networks (the A/B test needs 1000 per variant
    /// before it decides).
    #[arg(long, default_value_t = 2400, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    users: u32,
    /// Where to write the HTML report (default: report.html beside the
    /// database).
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// The config directory to deploy (default: ./configs, else the one of
    /// the source tree).
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
}

/// The demo's result: the simulation's outcome and where things are.
#[derive(Serialize)]
struct Demo {
    database: String,
    report: String,
    #[serde(flatten)]
    outcome: Outcome,
}

pub fn run(args: &DemoArgs, db: &Path, out: &Output) -> Result<(), Error> {
    let configs = match &args.config_dir {
        Some(dir) => dir.clone(),
        None => find_configs().ok_or_else(|| {
            Error::not_found(
                "no configs/ folder here or in the source tree; give one with --config-dir",
            )
        })?,
    };
    // Checked before anything is created.
    cha_deploy::validate_config_dir(&configs, &[])?;
    // Without --db on the command line, a fresh folder; $CHA_DB is not
    // used: the demo fills a database with weeks of made-up data.
    let db = if db_given_on_command_line() {
        if db.exists() {
            return Err(Error::invalid_argument(format!(
                "{}: exists; the demo fills a new database with simulated data (remove it or choose another --db)",
                db.display()
            )));
        }
        db.to_path_buf()
    } else {
        scratch_folder(args.seed)?.join("cha.db")
    };
    let report = args
        .output
        .clone()
        .unwrap_or_else(|| db.with_file_name("report.html"));

    let started = std::time::Instant::now();
    // The demo drives the alert evaluator itself, at simulated times.
    let cha = Cha::open_with_options(
        &db,
        OpenOptions {
            evaluate_alerts: false,
            ..OpenOptions::default()
        },
    )?;
    let settings = Settings {
        seed: args.seed,
        weeks: args.weeks,
        users: args.users,
    };
    let mut progress = progress::Progress::new(u64::from(args.weeks) * 7);
    let outcome = Simulation::new(&cha, settings).run(&configs, &mut progress);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            progress.finish();
            cha_deploy::clock::use_system_clock();
            return Err(e);
        }
    };
    progress.set(u64::from(args.weeks) * 7, "writing the report");
    let written = cha.generate_deployment_report(&report, Some(ReportFormat::Html));
    progress.finish();
    cha_deploy::clock::use_system_clock();
    let written = written?;
    cha.close()?;
    let demo = Demo {
        database: db.display().to_string(),
        report: written.path.clone(),
        outcome,
    };
    let seconds = started.elapsed().as_secs_f64();
    out.print(&demo, || summary(&demo, seconds));
    Ok(())
}

/// Whether `--db` was given on the command line (not only by `$CHA_DB` or
/// the default).
fn db_given_on_command_line() -> bool {
    use clap::CommandFactory;
    crate::Cli::command()
        .try_get_matches_from(std::env::args_os())
        .ok()
        .is_some_and(|m| {
            let from = |m: &clap::ArgMatches| m.value_source("db");
            let sub = m.subcommand().and_then(|(_, s)| from(s));
            [from(&m), sub].contains(&Some(clap::parser::ValueSource::CommandLine))
        })
}

/// A new folder for the demo's database and report, kept afterwards so
/// that both can be looked at.
fn scratch_folder(seed: u64) -> Result<PathBuf, Error> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "cha-deploy-demo-{seed}-{}-{nanos:09}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::storage(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// `configs/` of the current folder, else of the source tree this binary
/// was built from.
fn find_configs() -> Option<PathBuf> {
    [
        PathBuf::from("configs"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"),
    ]
    .into_iter()
    .find(|dir| dir.join("feature_flags.yml").is_file())
}

/// A number for people: at most one decimal.
pub(crate) fn num(x: f64) -> String {
    crate::output::num(x, 1)
}

/// A simulated time for people: `Tue 2026-11-17 09:40`.
pub(crate) fn when(ms: i64) -> String {
    let t = crate::output::rfc3339(ms);
    let day = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        [ms.div_euclid(86_400_000).rem_euclid(7) as usize];
    format!("{day} {} {}", &t[..10], &t[11..16])
}

fn summary(d: &Demo, seconds: f64) -> String {
    let o = &d.outcome;
    let n = &o.network;
    let mut s = format!(
        "cha-deploy {} demo: {} simulated weeks of the intelligent pipe-sizing rollout \
         ({} engineers, seed {}, {seconds:.1} s)\n\n",
        cha_deploy::VERSION,
        o.weeks,
        o.users,
        o.seed
    );
    s += &format!(
        "Network   {} consumers in {} districts, {} MW connected, {} km of trench, {} pipes\n",
        n.consumers,
        n.districts,
        num(n.connected_load_mw),
        num(n.trench_km),
        n.pipes
    );
    let [small, houses, blocks, commercial, public] = n.by_kind;
    s += &format!(
        "          {houses} houses, {blocks} apartment blocks, {commercial} shops and offices, \
         {public} schools and halls, {small} garages and kiosks\n"
    );
    for f in [&n.fixed, &n.flow_based] {
        s += &format!(
            "  {:<12} {:>6.2} MEUR, {:>3} pipes outside 0.1–2.0 m/s, DN{} from the plant at {:.2} m/s, mean {} Pa/m (max {})\n",
            f.method,
            f.cost_meur,
            f.outside_velocity_limits,
            f.plant_pipe_dn,
            f.plant_pipe_velocity_m_s,
            num(f.mean_pressure_drop_pa_per_m),
            num(f.max_pressure_drop_pa_per_m)
        );
    }
    s += &format!("\nSizings   {} in all", o.sizings);
    if o.faulty_release_sizings > 0 {
        s += &format!(", {} with the faulty release", o.faulty_release_sizings);
    }
    s.push('\n');
    for (arm, t) in &o.arms {
        let name = match arm {
            Arm::NotInRollout => "not in rollout",
            Arm::Traditional => "traditional",
            Arm::Intelligent => "intelligent",
        };
        s += &format!(
            "  {name:<15} {:>6} sizings by {:>4} engineers, {:>5.0} ms on average, {:.3} kW/kEUR, {} with a velocity violation\n",
            t.sizings,
            t.engineers,
            t.mean_time_ms,
            t.mean_cost_efficiency_kw_per_keur,
            percent(t.share_with_velocity_violations)
        );
    }
    s += "\nRollout\n";
    let mut happenings = o.happenings.clone();
    happenings.sort_by_key(|h| h.at_ms);
    for h in &happenings {
        s += &format!("  {}  {}\n", when(h.at_ms), h.what);
    }
    s += &format!(
        "  at the end: {}%{}\n",
        num(o.rollout_percentage_end),
        if o.rollout_held_end { ", held" } else { "" }
    );
    if !o.alerts.is_empty() {
        s += "\nAlerts\n";
        for a in &o.alerts {
            s += &format!(
                "  #{} {} ({}): fired {}, {}\n",
                a.id,
                a.rule,
                a.max_severity.as_str(),
                when(a.fired_at_ms),
                a.resolved_at_ms
                    .map_or("still firing".into(), |t| format!("resolved {}", when(t)))
            );
        }
    }
    let a = &o.analysis;
    s += &format!("\nA/B test  {TEST}: {}\n", a.recommendation);
    for m in &a.metrics {
        for c in &m.comparisons {
            if let (Some(l), Some(lo), Some(hi)) = (
                c.relative_lift.estimate,
                c.relative_lift.ci_lower,
                c.relative_lift.ci_upper,
            ) {
                s += &format!(
                    "  {:<24} {} vs {}: {:+.1}% [{:+.1}%, {:+.1}%] {}\n",
                    m.name,
                    c.variant,
                    a.control,
                    100.0 * l,
                    100.0 * lo,
                    100.0 * hi,
                    crate::output::name_of(&c.verdict).replace('_', " ")
                );
            }
        }
    }
    s += &format!("\nFeedback  {} items", o.feedback_items);
    let csat: Vec<String> = o
        .csat
        .iter()
        .filter_map(|v| {
            v.csat
                .map(|c| format!("{} {} of {} ratings", v.variant, percent(c), v.ratings))
        })
        .collect();
    if !csat.is_empty() {
        s += &format!("; CSAT (ratings of 4 or 5): {}", csat.join(", "));
    }
    s.push('\n');
    s += &format!("\nDatabase  {}\nReport    {}\n", d.database, d.report);
    s += &format!(
        "\nLook further: cha-deploy --db {} status | ab analyze {TEST} | feedback analyze | report --format md",
        d.database
    );
    s
}
