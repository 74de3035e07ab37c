//! User feedback of cha-deploy: the analysis of 100,000 stored items
//! through the C ABI (`cha_feedback_analyze`), beside anchors measured on
//! the same database in the same run (see ../../BENCHMARKS.md, section
//! "User feedback"):
//!
//! (a) `cha_feedback_analyze` of the whole range, of a range that cuts its
//!     first and last day in two (those days' items are read one by one),
//!     and weekly;
//! (b) anchor: one bare SQL aggregation over every item (counts and mean
//!     rating by type, category, priority and sentiment), a fraction of
//!     what the analysis answers;
//! (c) anchor: what an analysis that reads the texts again would pay:
//!     every stored text read and scored by the sentiment analyser;
//! and, for scale, how long a submission takes (one transaction each).
//!
//!     cargo bench --manifest-path benches/Cargo.toml --bench feedback

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::time::Instant;

use cha_deploy::feedback::{FeedbackType, SentimentAnalyzer, Submission};
use cha_deploy::ffi::{
    cha_close, cha_feedback_analyze, cha_feedback_analyze_with_options, cha_handle,
    cha_last_error_message, cha_open, cha_string_free,
};
use cha_deploy::{Cha, OpenOptions};
use rusqlite::{Connection, params};

#[path = "common/measure.rs"]
mod measure;
use measure::median;

const ITEMS: i64 = 100_000;
const DAYS: i64 = 180;
const DAY_MS: i64 = 86_400_000;
const ROUNDS: usize = 25;
const NOUNS: [&str; 10] = [
    "north", "east", "south", "west", "harbour", "campus", "airport", "valley", "hill", "river",
];
const SURVEYS: [&str; 10] = [
    "Excellent tool, the diameters look right.",
    "Good results on our network, and the report is clear.",
    "We used it for the district heating plan.",
    "The results are often wrong.",
    "Terrible, the sizing is unusable on large networks.",
    "It saves time on every project, thank you!",
    "Not bad, but I expected better accuracy.",
    "The new sizing is much faster than the old spreadsheet.",
    "Please add an export to IFC.",
    "The velocity limits are applied correctly now.",
];

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn last_error() -> String {
    let message = cha_last_error_message();
    if message.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated, owned by the library.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The item `i` of the generated set, at `at_ms`.
fn item(i: i64, at_ms: i64, categories: &[String]) -> Submission {
    let j = i % 97;
    let c = (j % 10) as usize;
    let kind = match j % 10 {
        0..=3 => FeedbackType::SatisfactionSurvey,
        4 | 5 => FeedbackType::GeneralFeedback,
        6 => FeedbackType::BugReport,
        7 => FeedbackType::FeatureRequest,
        8 => FeedbackType::PerformanceIssue,
        _ => FeedbackType::UsabilityIssue,
    };
    let noun = NOUNS[c];
    let text = match kind {
        FeedbackType::BugReport if j % 2 == 0 => {
            format!("The app crashes when importing {noun} data")
        }
        FeedbackType::BugReport => format!("Wrong diameter on the last segment of {noun} branches"),
        FeedbackType::FeatureRequest => format!("Please add a {noun} export to IFC"),
        FeedbackType::PerformanceIssue => format!("Recalculation of {noun} networks is slow"),
        FeedbackType::UsabilityIssue => format!("The {noun} settings are hard to find"),
        _ => SURVEYS[(i % 10) as usize].to_owned(),
    };
    let user = if kind.is_issue() { i % 400 } else { i % 20_000 };
    let mut s = Submission::new(kind, &format!("planner-{user:05}"), &text);
    s.rating = (!kind.is_issue()).then_some(1 + ((i / 7) % 5) as u8);
    s.category = Some(categories[c].clone());
    s.submitted_at_ms = Some(at_ms);
    s
}

/// Milliseconds of `f`, `ROUNDS` times.
fn timed(mut f: impl FnMut(usize)) -> Vec<f64> {
    (0..ROUNDS)
        .map(|round| {
            let started = Instant::now();
            f(round);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn analyze_c(h: *mut cha_handle, start: i64, end: i64, options: Option<&CStr>) -> usize {
    let mut json = std::ptr::null_mut();
    // SAFETY: an open handle, valid out-pointer; the string is freed.
    unsafe {
        let status = match options {
            Some(o) => cha_feedback_analyze_with_options(h, start, end, o.as_ptr(), &mut json),
            None => cha_feedback_analyze(h, start, end, &mut json),
        };
        assert_eq!(status, 0, "cha_feedback_analyze: {}", last_error());
        let n = CStr::from_ptr(json).to_bytes().len();
        cha_string_free(json);
        n
    }
}

fn main() {
    let dir =
        std::env::temp_dir().join(format!("cha-deploy-bench-feedback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = Scratch(dir);
    let db = scratch.0.join("cha.db");
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");

    // Setup: the shipped configs, 15,000 units exposed to the two running
    // tests, then 100,000 items over 180 days through the library.
    let options = OpenOptions {
        flush_interval_ms: 3_600_000,
        ..OpenOptions::default()
    };
    let cha = Cha::open_with_options(&db, options).unwrap();
    cha.deploy_all(&configs, "bench").unwrap();
    let base = cha_deploy::common::time::parse_rfc3339_ms("2025-03-03T00:00:00Z").unwrap();
    {
        let conn = Connection::open(&db).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        let mut insert = tx
            .prepare("INSERT INTO exposures (experiment, unit, variant, first_seen_ms) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for u in 0..15_000 {
            let unit = format!("planner-{u:05}");
            insert
                .execute(params![
                    "pipe_sizing_comparison",
                    unit,
                    if u % 2 == 0 {
                        "intelligent"
                    } else {
                        "traditional"
                    },
                    base - DAY_MS
                ])
                .unwrap();
            if u % 3 == 0 {
                insert
                    .execute(params![
                        "flow_calculation_comparison",
                        unit,
                        if u % 2 == 0 {
                            "flow_based"
                        } else {
                            "peak_load_sum"
                        },
                        base - DAY_MS
                    ])
                    .unwrap();
            }
        }
        drop(insert);
        tx.commit().unwrap();
    }
    let categories: Vec<String> = cha
        .feedback_settings()
        .feedback_categories
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let started = Instant::now();
    let mut submit_ms = Vec::with_capacity(ITEMS as usize);
    for i in 0..ITEMS {
        let at = base + i * (DAYS * DAY_MS / ITEMS);
        let s = item(i, at, &categories);
        let t = Instant::now();
        cha.submit_feedback(&s).unwrap();
        submit_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let setup_s = started.elapsed().as_secs_f64();
    cha.close().unwrap();
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());

    // (a) The analysis through the C ABI.
    let c_db = CString::new(db.to_str().unwrap()).unwrap();
    let mut h = std::ptr::null_mut();
    // SAFETY: valid string and out-pointer.
    assert_eq!(
        unsafe { cha_open(c_db.as_ptr(), &mut h) },
        0,
        "{}",
        last_error()
    );
    let (lo, hi) = (
        base + 30 * DAY_MS + DAY_MS / 2,
        base + 150 * DAY_MS + DAY_MS / 4,
    );
    let mut bytes = 0;
    let whole = timed(|_| bytes = analyze_c(h, 0, 0, None));
    let cut = timed(|_| {
        analyze_c(h, lo, hi, None);
    });
    let weekly = timed(|_| {
        analyze_c(h, 0, 0, Some(c"{\"period\": \"week\"}"));
    });
    // SAFETY: opened above, closed once.
    unsafe { cha_close(h) };

    // (b) One bare aggregation over every item.
    let conn = Connection::open(&db).unwrap();
    let bare = timed(|_| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT type, category, priority, sentiment, COUNT(*), AVG(rating), AVG(sentiment_score)
                 FROM feedback GROUP BY type, category, priority, sentiment",
            )
            .unwrap();
        let n = stmt
            .query_map([], |r| r.get::<_, i64>(4))
            .unwrap()
            .map(|r| r.unwrap())
            .sum::<i64>();
        assert_eq!(n, ITEMS);
    });
    // (c) Every text read and scored again.
    let analyzer = SentimentAnalyzer::new(
        &cha_deploy::config::load_user_feedback(&configs.join("user_feedback.yml"))
            .unwrap()
            .settings
            .sentiment_keywords,
    );
    let rescore = timed(|_| {
        let mut stmt = conn.prepare_cached("SELECT text FROM feedback").unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut total = 0.0;
        while let Some(r) = rows.next().unwrap() {
            total += analyzer
                .analyze(r.get_ref(0).unwrap().as_str().unwrap())
                .score;
        }
        std::hint::black_box(total);
    });

    let row = |name: &str, ms: &[f64]| {
        let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
        format!("| {name} | {:.1} | {:.1} |", median(ms.to_vec()), min)
    };
    println!("## User feedback ({ITEMS} items over {DAYS} days; {ROUNDS} rounds each, in ms)\n");
    println!("| what | median | fastest |");
    println!("|---|---:|---:|");
    println!("{}", row("cha_feedback_analyze, whole range", &whole));
    println!(
        "{}",
        row(
            "cha_feedback_analyze, 120 days cut mid-day at both ends",
            &cut
        )
    );
    println!(
        "{}",
        row("cha_feedback_analyze, whole range, weekly trend", &weekly)
    );
    println!(
        "{}",
        row("anchor: one bare GROUP BY over every item", &bare)
    );
    println!(
        "{}",
        row("anchor: every text read and scored again", &rescore)
    );
    println!(
        "\nsetup: {ITEMS} submissions in {setup_s:.1} s (median {:.3} ms, one transaction each); database {:.1} MB; analysis JSON {bytes} bytes",
        median(submit_ms),
        db_bytes as f64 / 1e6
    );
}
