//! Text as the feedback rules read it: words (lower-cased, with their
//! shape) and the punctuation between them, and sets of phrases matched
//! against those words. One tokenizer and one matcher serve the sentiment
//! lexicon, the category and priority keywords and the duplicate search,
//! so that a phrase in `user_feedback.yml` means the same everywhere.
//!
//! # Phrases
//!
//! A phrase is one or more words, matched as consecutive words of the text
//! (punctuation between them breaks a match), case-insensitively:
//!
//! - `crash*` (a trailing `*`) matches every word that starts with `crash`:
//!   crash, crashes, crashed, crashing;
//! - a lone `*` matches any one word: `too *` matches "too slow" and
//!   "too many";
//! - `doesn't` and `doesn’t` are the same; hyphens split words, so
//!   `pre-insulated` is the phrase `pre insulated`.

/// One token of a text: a word or a punctuation mark.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The word in lower case (apostrophes as `'`), or the mark itself.
    pub text: String,
    /// Whether this is a word (letters or digits), not punctuation.
    pub is_word: bool,
    /// A word of at least two letters, all capitals ("CRASHED"; not "DN100").
    pub is_caps: bool,
}

/// The tokens of `text`: words (runs of letters and digits, with
/// apostrophes inside them) and the marks that end clauses and sentences
/// (`. , ; : ! ?` and brackets). Other symbols are dropped.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let (mut letters, mut upper) = (0usize, 0usize);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            word.push(c);
            if c.is_alphabetic() {
                letters += 1;
                upper += usize::from(c.is_uppercase());
            }
        } else if matches!(c, '\'' | '’' | '‘')
            && !word.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            word.push('\'');
        } else {
            push_word(&mut tokens, &mut word, letters, upper);
            (letters, upper) = (0, 0);
            if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')') {
                tokens.push(Token {
                    text: c.to_string(),
                    is_word: false,
                    is_caps: false,
                });
            }
        }
    }
    push_word(&mut tokens, &mut word, letters, upper);
    tokens
}

/// Ends the word being read, if any, as a token.
fn push_word(tokens: &mut Vec<Token>, word: &mut String, letters: usize, upper: usize) {
    if !word.is_empty() {
        tokens.push(Token {
            text: word.to_lowercase(),
            is_word: true,
            // Codes such as DN100 are not emphasis.
            is_caps: letters >= 2 && upper == letters && letters == word.chars().count(),
        });
        word.clear();
    }
}

/// One word of a phrase pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// This exact word.
    Word(String),
    /// Any word starting with this.
    Prefix(String),
    /// Any one word.
    Any,
}

impl Pattern {
    fn matches(&self, word: &str) -> bool {
        match self {
            Pattern::Word(w) => w == word,
            Pattern::Prefix(p) => word.starts_with(p.as_str()),
            Pattern::Any => true,
        }
    }
}

/// A phrase matched in a text: which one and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// The index of the phrase in its set.
    pub phrase: usize,
    /// The index of its first token.
    pub start: usize,
    /// The index after its last token.
    pub end: usize,
}

/// A set of phrases, compiled once and matched against token lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhraseSet {
    phrases: Vec<Vec<Pattern>>,
}

/// The words of a phrase as written in a configuration, or why it cannot
/// be one (empty, or nothing but punctuation).
pub fn phrase_words(phrase: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = phrase
        .split_whitespace()
        .flat_map(|part| {
            if part == "*" {
                return vec!["*".to_owned()];
            }
            let prefix = part.ends_with('*');
            let mut words: Vec<String> = tokenize(part.trim_end_matches('*'))
                .into_iter()
                .filter(|t| t.is_word)
                .map(|t| t.text)
                .collect();
            if prefix && let Some(last) = words.last_mut() {
                last.push('*');
            }
            words
        })
        .collect();
    if words.is_empty() || words.iter().all(|w| w == "*") {
        return Err(format!(
            "`{phrase}` has no word to match (a phrase needs at least one word of letters or digits)"
        ));
    }
    Ok(words)
}

impl PhraseSet {
    /// The set of `phrases`, in order: the index of a phrase in the list is
    /// the `phrase` of its matches. A phrase without a word (see
    /// [`phrase_words`]) never matches; configuration reading refuses them.
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> PhraseSet {
        PhraseSet {
            phrases: phrases
                .iter()
                .map(|p| {
                    phrase_words(p.as_ref())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|w| match w.strip_suffix('*') {
                            Some("") => Pattern::Any,
                            Some(prefix) => Pattern::Prefix(prefix.to_owned()),
                            None => Pattern::Word(w),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// How many phrases the set holds.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Whether the set holds no phrase.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The longest phrase starting at token `at`, if any (the first listed
    /// among equally long ones).
    pub fn longest_at(&self, tokens: &[Token], at: usize) -> Option<Match> {
        let mut best: Option<Match> = None;
        for (index, phrase) in self.phrases.iter().enumerate() {
            if phrase.is_empty() || at + phrase.len() > tokens.len() {
                continue;
            }
            let fits = phrase
                .iter()
                .zip(&tokens[at..])
                .all(|(p, t)| t.is_word && p.matches(&t.text));
            if fits && best.is_none_or(|b| b.end - b.start < phrase.len()) {
                best = Some(Match {
                    phrase: index,
                    start: at,
                    end: at + phrase.len(),
                });
            }
        }
        best
    }

    /// Every match, left to right, longest first and never overlapping.
    pub fn find_all(&self, tokens: &[Token]) -> Vec<Match> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < tokens.len() {
            match self.longest_at(tokens, at) {
                Some(m) => {
                    found.push(m);
                    at = m.end;
                }
                None => at += 1,
            }
        }
        found
    }
}

/// Words that turn what follows around ("not good", "never works",
/// "isn't fast", "no more crashes", "without any problem"), besides every
/// word ending in `n't`.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "without",
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont",
    "wouldnt", "couldnt", "shouldnt", "hasnt", "havent", "hadnt", "aint", "hardly", "barely",
];

/// Whether `word` negates what follows it.
pub fn is_negator(word: &str) -> bool {
    word.ends_with("n't") || NEGATORS.contains(&word)
}

/// Whether the token ends a clause: the scope of a negation or a modifier
/// stops there.
pub fn ends_clause(token: &Token) -> bool {
    !token.is_word
}

/// How many words before a phrase a negation reaches (as VADER: three).
pub const NEGATION_REACH: usize = 3;

/// Verbs whose negation negates the clause they introduce: "I don't think
/// it is ready" means "I think it is not ready" (negation raising).
const RAISING_VERBS: &[&str] = &["think", "believe", "feel"];

/// Whether the phrase starting at token `start` is negated: a negator among
/// the [`NEGATION_REACH`] words before it, in the same clause ("used to"
/// counts as one: what used to be so is not so any more), or a negated
/// "think", "believe" or "feel" anywhere before it in the clause.
pub fn is_negated(tokens: &[Token], start: usize) -> bool {
    let clause_start = tokens[..start]
        .iter()
        .rposition(ends_clause)
        .map_or(0, |p| p + 1);
    let words = &tokens[clause_start..start];
    for (back, t) in words.iter().rev().enumerate().take(NEGATION_REACH) {
        let at = words.len() - 1 - back;
        if is_negator(&t.text)
            || (t.text == "used" && words.get(at + 1).is_some_and(|n| n.text == "to"))
        {
            return true;
        }
    }
    words.iter().enumerate().any(|(i, t)| {
        RAISING_VERBS.contains(&t.text.as_str())
            && words[i.saturating_sub(2)..i]
                .iter()
                .any(|w| is_negator(&w.text))
    })
}

/// Words that carry no content for comparing two reports.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "both", "but", "by", "can", "could", "did", "do", "does",
    "doing", "during", "each", "even", "every", "for", "from", "had", "has", "have", "having",
    "he", "her", "here", "him", "his", "how", "i", "i'm", "i've", "if", "in", "into", "is", "it",
    "it's", "its", "just", "me", "more", "most", "my", "now", "of", "on", "once", "only", "or",
    "other", "our", "ours", "out", "over", "please", "same", "she", "should", "so", "some",
    "still", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "you",
    "your",
];

/// A word reduced to a rough stem for comparing reports: "crashes",
/// "crashed" and "crashing" all become "crash"; "pipe" and "pipes" both
/// "pip". Deliberately simple: it only has to make two phrasings of one
/// report look alike, not be good English.
pub fn stem(word: &str) -> &str {
    let long_enough = |base: &str| base.chars().count() >= 3;
    let mut base = word;
    if let Some(b) = word.strip_suffix("ing").filter(|b| long_enough(b)) {
        base = b;
    } else if let Some(b) = word.strip_suffix("ed").filter(|b| long_enough(b)) {
        base = b;
    } else if let Some(b) = word
        .strip_suffix("es")
        .filter(|b| long_enough(b) && ["s", "x", "z", "ch", "sh"].iter().any(|e| b.ends_with(e)))
    {
        base = b;
    } else if let Some(b) = word
        .strip_suffix('s')
        .filter(|b| long_enough(b) && !b.ends_with('s'))
    {
        base = b;
    }
    // "size", "sized" and "sizing" meet at "siz".
    match base.strip_suffix('e') {
        Some(b) if b.chars().count() >= 3 => b,
        _ => base,
    }
}

/// The content words of `text` for the duplicate search: stems of the words
/// that are not stopwords, sorted and without repeats.
pub fn content_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = tokenize(text)
        .into_iter()
        .filter(|t| t.is_word && !STOPWORDS.contains(&t.text.as_str()))
        .map(|t| stem(&t.text).to_owned())
        .collect();
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokens_keep_words_apostrophes_and_clause_marks() {
        assert_eq!(
            words("It doesn’t WORK, sadly!! (pre-insulated DN150; 2 m/s)"),
            [
                "it",
                "doesn't",
                "work",
                ",",
                "sadly",
                "!",
                "!",
                "(",
                "pre",
                "insulated",
                "dn150",
                ";",
                "2",
                "m",
                "s",
                ")"
            ]
        );
        let t = tokenize("The tool CRASHED at DN100 A");
        assert!(t[2].is_caps, "CRASHED");
        assert!(!t[4].is_caps, "DN100 is a code, not emphasis");
        assert!(!t[5].is_caps, "a single letter is not shouting");
        assert_eq!(words("users' settings"), ["users", "settings"]);
    }

    #[test]
    fn phrases_match_longest_first_with_prefixes_and_any_word() {
        let set = PhraseSet::new(&["pressure drop too high", "too *", "crash*", "pressure"]);
        let tokens = tokenize("Pressure drop too high; it crashed. Too many clicks, too");
        let found: Vec<(usize, usize, usize)> = set
            .find_all(&tokens)
            .iter()
            .map(|m| (m.phrase, m.start, m.end))
            .collect();
        // "too" at the very end has no word after it; "." breaks nothing
        // here since no phrase spans it.
        assert_eq!(found, [(0, 0, 4), (2, 6, 7), (1, 8, 10)]);
        assert_eq!(
            phrase_words("  Doesn’t work* ").unwrap(),
            ["doesn't", "work*"]
        );
        assert!(phrase_words(" * ").is_err());
        assert!(phrase_words("!!").is_err());
    }

    #[test]
    fn negation_reaches_three_words_within_a_clause() {
        let t = tokenize("not a single wrong diameter");
        assert!(is_negated(&t, 3));
        let t = tokenize("not a very big wrong diameter");
        assert!(!is_negated(&t, 4), "four words away");
        let t = tokenize("no, the diameters are wrong");
        assert!(!is_negated(&t, 5), "a comma ends the scope");
        let t = tokenize("it isn't fast");
        assert!(is_negated(&t, 2));
        let t = tokenize("it used to crash");
        assert!(is_negated(&t, 3));
        let t = tokenize("I don't think the new sizing is ready");
        assert!(is_negated(&t, 7), "negation raising");
        let t = tokenize("I think the new sizing is not ready");
        assert!(is_negated(&t, 7));
        let t = tokenize("I don't think so, it is ready");
        assert!(!is_negated(&t, 8), "another clause");
    }

    #[test]
    fn content_words_ignore_stopwords_and_endings() {
        assert_eq!(
            content_words("The app crashes when I import a GIS network with 5000 pipes"),
            ["5000", "app", "crash", "gis", "import", "network", "pip"]
        );
        assert_eq!(
            content_words("App crashed when importing GIS networks of 5000 pipes!"),
            ["5000", "app", "crash", "gis", "import", "network", "pip"]
        );
        for (word, stemmed) in [
            ("pass", "pass"),
            ("is", "is"),
            ("use", "use"),
            ("uses", "use"),
            ("boxes", "box"),
            ("sizing", "siz"),
            ("sized", "siz"),
            ("size", "siz"),
        ] {
            assert_eq!(stem(word), stemmed, "{word}");
        }
    }
}
