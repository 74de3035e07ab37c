//! The sentiment of feedback, measured on labeled sentences about the
//! sizing tool (`tests/fixtures/feedback/`), with the lexicon of the
//! shipped `configs/user_feedback.yml`.
//!
//! `sentiment_labeled.tsv` (180 sentences) and `sentiment_holdout.tsv` (56)
//! were written before the rules and the lexicon; the rules were developed
//! on the first, and the second was held out until the `functions` rule and
//! the lexicon's words of plain dislike ("dislike", "unreadable", "takes
//! ages") were drawn from its misses. `sentiment_unseen.tsv` (76) was
//! written before those changes and no change was drawn from it. The README
//! reports the three accuracies; the thresholds here keep them from sliding
//! back.

use std::path::Path;

use cha_deploy::config::load_user_feedback;
use cha_deploy::feedback::{SentimentAnalyzer, SentimentLabel};

/// The labeled sentences of a fixture: (label, text).
fn labeled(file: &str) -> Vec<(SentimentLabel, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feedback")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (label, sentence) = line.split_once('\t').expect("label<TAB>text");
            let label = SentimentLabel::parse(label).unwrap_or_else(|| panic!("label {label}"));
            (label, sentence.to_owned())
        })
        .collect()
}

fn shipped_analyzer() -> SentimentAnalyzer {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/user_feedback.yml");
    let loaded = load_user_feedback(&config).unwrap();
    SentimentAnalyzer::new(&loaded.settings.sentiment_keywords)
}

/// The accuracy on `file`, printing every miss (shown with `--nocapture`).
fn accuracy(file: &str, analyzer: &SentimentAnalyzer) -> (usize, usize) {
    let set = labeled(file);
    let mut right = 0;
    for (label, text) in &set {
        let got = analyzer.analyze(text);
        if got.label == *label {
            right += 1;
        } else {
            println!(
                "{file}: expected {}, got {} ({:+.3}): {text}",
                label.as_str(),
                got.label.as_str(),
                got.score
            );
        }
    }
    println!("{file}: {right} of {} right", set.len());
    (right, set.len())
}

#[test]
fn the_labeled_sets_are_what_the_readme_says() {
    let count = |file: &str, label: SentimentLabel| {
        labeled(file).iter().filter(|(l, _)| *l == label).count()
    };
    use SentimentLabel::*;
    let main = "sentiment_labeled.tsv";
    assert_eq!(
        (
            count(main, Negative),
            count(main, Positive),
            count(main, Neutral)
        ),
        (77, 63, 40)
    );
    let holdout = "sentiment_holdout.tsv";
    assert_eq!(
        (
            count(holdout, Negative),
            count(holdout, Positive),
            count(holdout, Neutral)
        ),
        (22, 18, 16)
    );
    let unseen = "sentiment_unseen.tsv";
    assert_eq!(
        (
            count(unseen, Negative),
            count(unseen, Positive),
            count(unseen, Neutral)
        ),
        (30, 24, 22)
    );
}

#[test]
fn sentiment_accuracy_on_the_labeled_set_is_above_0_90() {
    let (right, total) = accuracy("sentiment_labeled.tsv", &shipped_analyzer());
    let share = right as f64 / total as f64;
    assert!(share > 0.90, "accuracy {right}/{total} = {share:.3}");
}

#[test]
fn sentiment_accuracy_on_the_held_out_set() {
    let (right, total) = accuracy("sentiment_holdout.tsv", &shipped_analyzer());
    let share = right as f64 / total as f64;
    // 42 of 56 while it was held out; 54 since the changes drawn from it.
    assert!(share > 0.90, "accuracy {right}/{total} = {share:.3}");
}

/// The seed's keywords alone (eight positive and eight negative words, no
/// rules beyond the lexicon's): the baseline the rules improve on.
#[test]
fn the_seeds_keywords_alone_score_far_lower() {
    let minimal = cha_deploy::config::template("user_feedback", "t", Some("minimal")).unwrap();
    let settings = cha_deploy::config::parse_user_feedback(&minimal, "t.yml")
        .unwrap()
        .settings;
    let (right, total) = accuracy(
        "sentiment_labeled.tsv",
        &SentimentAnalyzer::new(&settings.sentiment_keywords),
    );
    let share = right as f64 / total as f64;
    assert!(share < 0.5, "the seed's keywords scored {share:.3}");
}

#[test]
fn sentiment_accuracy_on_the_unseen_set() {
    let (right, total) = accuracy("sentiment_unseen.tsv", &shipped_analyzer());
    let share = right as f64 / total as f64;
    // Sentences no rule was drawn from: a floor against sliding back (62 of
    // 76 before the latest changes, 63 after), not a target. Its misses are
    // mostly complaints without a word of sentiment ("takes several
    // minutes", "differ by almost twenty percent").
    assert!(share > 0.80, "accuracy {right}/{total} = {share:.3}");
}
