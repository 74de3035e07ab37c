//! Sentiment of a feedback text: the configured lexicon (weighted phrases
//! of praise and complaint, and phrases that are neutral in pipe sizing)
//! read with rules in the manner of VADER (Hutto & Gilbert, 2014), written
//! anew for this domain:
//!
//! 1. **Lexicon.** Phrases are matched longest first ("pressure drop too
//!    high" before "too *"); words inside a neutral phrase ("heat loss",
//!    "error message") are not scored.
//! 2. **Modifiers.** An intensifier among the three words before a phrase
//!    ("very", "extremely", "far") adds 0.293 to its strength, a dampener
//!    ("slightly", "a bit", "kind of") takes 0.293 away; the second and
//!    third word back count 95% and 90%.
//! 3. **Negation.** A negator among the three words before a phrase, in
//!    the same clause ("not good", "never works", "isn't fast", "no more
//!    crashes", "without any problem", "used to crash") turns it around
//!    and weakens it: × −0.74.
//!    What the tool is for (the lexicon's `functions`: "save*", "find*")
//!    carries no sentiment said plainly and is a complaint of strength 1.8
//!    when negated: "doesn't save the pump curves", "never finds anything".
//! 4. **Hypotheticals.** A phrase after "would", "could", "if", "wish",
//!    "hope" or "I'd" in its clause is a wish, not a verdict on the tool as
//!    it is ("it would be useful to ..."): it is not scored.
//! 5. **Contrast.** In a sentence with "but" or "however", what comes
//!    before counts half and what follows one and a half times; a clause
//!    opened by "although", "though" or "despite" counts half.
//! 6. **Emphasis.** A phrase written in capitals (in a text that is not all
//!    capitals) gains 0.733; each exclamation mark (up to four) adds 0.292
//!    to the total, in its direction.
//!
//! The total `s` becomes a score in (−1, 1) as VADER's compound does,
//! `s / √(s² + 15)`; a score at or above the configured threshold is
//! positive, at or below its negative is negative, and neutral between.

use serde::Serialize;

use super::model::SentimentLabel;
use super::settings::SentimentKeywords;
use super::text::{PhraseSet, Token, ends_clause, is_negated, tokenize};

/// The strength of a complaint that the tool does not do what it is for
/// ("doesn't save"): as "difficult" or "hard to" in the shipped lexicon.
const FUNCTION_FAILS: f64 = 1.8;

/// What an intensifier adds to a phrase's strength (VADER's B_INCR).
const BOOST: f64 = 0.293;
/// What capitals add (VADER's C_INCR).
const CAPS: f64 = 0.733;
/// The factor of a negated phrase (VADER's N_SCALAR).
const NEGATE: f64 = -0.74;
/// What each exclamation mark adds to the total.
const EXCLAMATION: f64 = 0.292;
/// At most this many exclamation marks count.
const MAX_EXCLAMATIONS: usize = 4;
/// The normalisation constant of the score (VADER's alpha).
const ALPHA: f64 = 15.0;
/// How the words before and after "but" count.
const BEFORE_CONTRAST: f64 = 0.5;
const AFTER_CONTRAST: f64 = 1.5;
/// How a concession clause ("although ...") counts.
const CONCESSION: f64 = 0.5;

const INTENSIFIERS: &[&str] = &[
    "very",
    "really",
    "extremely",
    "so",
    "totally",
    "completely",
    "absolutely",
    "incredibly",
    "super",
    "highly",
    "hugely",
    "truly",
    "especially",
    "particularly",
    "remarkably",
    "seriously",
    "much",
    "far",
    "way",
    "most",
    "more",
    "even",
    "utterly",
    "entirely",
];
const DAMPENERS: &[&str] = &[
    "slightly",
    "somewhat",
    "fairly",
    "marginally",
    "partly",
    "partially",
    "mostly",
    "almost",
    "rather",
    "occasionally",
    "sometimes",
];
/// Two-word dampeners, as (first, second).
const DAMPENER_PAIRS: &[(&str, &str)] = &[
    ("a", "bit"),
    ("a", "little"),
    ("kind", "of"),
    ("sort", "of"),
];
const CONTRASTS: &[&str] = &["but", "however"];
const CONCESSIONS: &[&str] = &["although", "though", "despite"];
const HYPOTHETICALS: &[&str] = &[
    "would", "could", "if", "wish", "hope", "i'd", "we'd", "it'd", "you'd", "they'd",
];

/// The sentiment of one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sentiment {
    /// In (−1, 1): below 0 a complaint, above 0 praise.
    pub score: f64,
    /// The label of the score.
    pub label: SentimentLabel,
}

/// The configured lexicon, compiled once.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentAnalyzer {
    terms: PhraseSet,
    /// The signed strength of each phrase of `terms`.
    valence: Vec<f64>,
    neutral: PhraseSet,
    functions: PhraseSet,
    threshold: f64,
}

impl SentimentAnalyzer {
    /// Compiles `keywords`.
    pub fn new(keywords: &SentimentKeywords) -> SentimentAnalyzer {
        let mut phrases = Vec::new();
        let mut valence = Vec::new();
        for (term, weight) in &keywords.positive {
            phrases.push(term.as_str());
            valence.push(*weight);
        }
        for (term, weight) in &keywords.negative {
            phrases.push(term.as_str());
            valence.push(-weight);
        }
        SentimentAnalyzer {
            terms: PhraseSet::new(&phrases),
            valence,
            neutral: PhraseSet::new(&keywords.neutral),
            functions: PhraseSet::new(&keywords.functions),
            threshold: keywords.threshold,
        }
    }

    /// The label of `score`.
    pub fn label(&self, score: f64) -> SentimentLabel {
        if score >= self.threshold && score > 0.0 {
            SentimentLabel::Positive
        } else if score <= -self.threshold && score < 0.0 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        }
    }

    /// The sentiment of `text`.
    pub fn analyze(&self, text: &str) -> Sentiment {
        self.analyze_tokens(&tokenize(text))
    }

    /// The sentiment of an already tokenized text.
    pub fn analyze_tokens(&self, tokens: &[Token]) -> Sentiment {
        let mut masked = vec![false; tokens.len()];
        for m in self.neutral.find_all(tokens) {
            masked[m.start..m.end].fill(true);
        }
        // A text in capitals throughout is not emphasis, only a caps lock.
        let shouting = tokens
            .iter()
            .filter(|t| t.is_word && t.text.chars().all(char::is_alphabetic))
            .all(|t| t.is_caps || t.text.chars().count() < 2);
        let weights = contrast_weights(tokens);
        let mut total = 0.0;
        let terms = self.terms.find_all(tokens);
        for m in self.functions.find_all(tokens) {
            let scored = terms.iter().any(|t| t.start < m.end && m.start < t.end);
            if scored
                || masked[m.start..m.end].iter().any(|&x| x)
                || hypothetical(tokens, m.start)
                || !is_negated(tokens, m.start)
            {
                continue;
            }
            total -= FUNCTION_FAILS * weights[m.start];
        }
        for m in terms {
            if masked[m.start..m.end].iter().any(|&x| x) || hypothetical(tokens, m.start) {
                continue;
            }
            let mut v = self.valence[m.phrase];
            let sign = v.signum();
            if !shouting && tokens[m.start..m.end].iter().any(|t| t.is_caps) {
                v += sign * CAPS;
            }
            v += sign * modifiers(tokens, m.start, shouting);
            if is_negated(tokens, m.start) {
                v *= NEGATE;
            }
            total += v * weights[m.start];
        }
        let exclamations = tokens
            .iter()
            .filter(|t| t.text == "!")
            .count()
            .min(MAX_EXCLAMATIONS);
        if total != 0.0 {
            total += total.signum() * EXCLAMATION * exclamations as f64;
        }
        let score = total / (total * total + ALPHA).sqrt();
        Sentiment {
            score,
            label: self.label(score),
        }
    }
}

/// What the intensifiers and dampeners among the three words before token
/// `start` (in its clause) add to a phrase's strength.
fn modifiers(tokens: &[Token], start: usize, shouting: bool) -> f64 {
    let mut added = 0.0;
    let mut i = start;
    for distance in [1.0, 0.95, 0.9] {
        if i == 0 || ends_clause(&tokens[i - 1]) {
            break;
        }
        i -= 1;
        let word = tokens[i].text.as_str();
        let before = i.checked_sub(1).map(|j| tokens[j].text.as_str());
        let scalar = if INTENSIFIERS.contains(&word) {
            BOOST
        } else if DAMPENERS.contains(&word)
            || before.is_some_and(|b| DAMPENER_PAIRS.contains(&(b, word)))
        {
            -BOOST
        } else {
            continue;
        };
        let caps = if tokens[i].is_caps && !shouting {
            CAPS * scalar.signum()
        } else {
            0.0
        };
        added += (scalar + caps) * distance;
    }
    added
}

/// Whether the phrase at token `start` is in a hypothetical clause: after
/// "would", "could", "if", ... in the same clause.
fn hypothetical(tokens: &[Token], start: usize) -> bool {
    tokens[..start]
        .iter()
        .rev()
        .take_while(|t| !ends_clause(t))
        .any(|t| HYPOTHETICALS.contains(&t.text.as_str()))
}

/// How much each token's sentiment counts by the contrasts of its sentence:
/// half before "but", one and a half after; half in an "although" clause.
fn contrast_weights(tokens: &[Token]) -> Vec<f64> {
    let mut weights = vec![1.0; tokens.len()];
    let mut start = 0;
    while start < tokens.len() {
        let end = tokens[start..]
            .iter()
            .position(|t| matches!(t.text.as_str(), "." | "!" | "?" | ";"))
            .map_or(tokens.len(), |p| start + p + 1);
        let sentence = start..end;
        if let Some(at) = sentence
            .clone()
            .find(|&i| CONTRASTS.contains(&tokens[i].text.as_str()))
        {
            weights[start..at].fill(BEFORE_CONTRAST);
            weights[at..end].fill(AFTER_CONTRAST);
        }
        for i in sentence {
            if CONCESSIONS.contains(&tokens[i].text.as_str()) {
                let clause_end = tokens[i..end]
                    .iter()
                    .position(ends_clause)
                    .map_or(end, |p| i + p);
                for w in &mut weights[i..clause_end] {
                    *w *= CONCESSION;
                }
            }
        }
        start = end;
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> SentimentAnalyzer {
        let terms =
            |list: &[(&str, f64)]| list.iter().map(|(t, w)| ((*t).to_owned(), *w)).collect();
        SentimentAnalyzer::new(&SentimentKeywords {
            positive: terms(&[
                ("good", 1.9),
                ("fast*", 2.0),
                ("useful", 1.9),
                ("works", 1.2),
            ]),
            negative: terms(&[
                ("crash*", 3.0),
                ("slow*", 2.0),
                ("loss", 1.5),
                ("pressure drop too high", 2.5),
            ]),
            neutral: vec!["heat loss".into()],
            functions: vec!["save*".into(), "find*".into(), "work*".into()],
            threshold: 0.05,
        })
    }

    fn score(text: &str) -> f64 {
        analyzer().analyze(text).score
    }

    fn assert_close(text: &str, expected: f64) {
        let got = score(text);
        assert!(
            (got - expected).abs() < 1e-12,
            "{text}: {got} vs {expected}"
        );
    }

    /// VADER's compound of a raw total.
    fn compound(total: f64) -> f64 {
        total / (total * total + ALPHA).sqrt()
    }

    #[test]
    fn each_rule_changes_the_total_as_documented() {
        assert_close("It is good.", compound(1.9));
        assert_close("It is very good.", compound(1.9 + BOOST));
        assert_close("good, very", compound(1.9));
        assert_close("It is slightly good", compound(1.9 - BOOST));
        assert_close("It is a bit slow", compound(-(2.0 - BOOST)));
        assert_close(
            "very very very good",
            compound(1.9 + BOOST * (1.0 + 0.95 + 0.9)),
        );
        assert_close("It is not good", compound(1.9 * NEGATE));
        assert_close("It isn't fast", compound(2.0 * NEGATE));
        assert_close("no more crashes", compound(-(3.0 + BOOST) * NEGATE));
        assert_close("It used to crash", compound(-3.0 * NEGATE));
        assert_close("It CRASHED", compound(-3.0 - CAPS));
        assert_close("IT CRASHED", compound(-3.0));
        assert_close("It crashed!!", compound(-3.0 - 2.0 * EXCLAMATION));
        assert_close("It crashed!!!!!!", compound(-3.0 - 4.0 * EXCLAMATION));
        assert_close(
            "It is fast but it crashed",
            compound(2.0 * BEFORE_CONTRAST - 3.0 * AFTER_CONTRAST),
        );
        assert_close(
            "Although it is fast, it crashed",
            compound(2.0 * CONCESSION - 3.0),
        );
        assert_close("It would be useful to export", 0.0);
        assert_close("Heat loss is computed", 0.0);
        assert_close("Data loss!", compound(-1.5 - EXCLAMATION));
        assert_close("The pressure drop too high warning", compound(-2.5));
        // What the tool is for: nothing said plainly, a complaint negated.
        assert_close("It saves the pump curves", 0.0);
        assert_close("It doesn't save the pump curves", compound(-FUNCTION_FAILS));
        assert_close(
            "The search never finds anything!",
            compound(-FUNCTION_FAILS - EXCLAMATION),
        );
        assert_close(
            "It finds them but it doesn't save them",
            compound(-FUNCTION_FAILS * AFTER_CONTRAST),
        );
        assert_close("It would be useful if it did not save twice", 0.0);
        // A lexicon phrase over it is scored once, by the lexicon.
        assert_close("It never works", compound(1.2 * NEGATE));
    }

    #[test]
    fn labels_follow_the_threshold() {
        let a = analyzer();
        assert_eq!(a.analyze("good").label, SentimentLabel::Positive);
        assert_eq!(a.analyze("it crashed").label, SentimentLabel::Negative);
        assert_eq!(
            a.analyze("please add a column").label,
            SentimentLabel::Neutral
        );
        assert_eq!(a.label(0.05), SentimentLabel::Positive);
        assert_eq!(a.label(0.0499), SentimentLabel::Neutral);
        assert_eq!(a.label(-0.05), SentimentLabel::Negative);
        for text in ["good", "very GOOD!!!!", "CRASH crash crash slow slow!!!!"] {
            let s = a.analyze(text).score;
            assert!(s > -1.0 && s < 1.0, "{text}: {s}");
        }
    }
}
