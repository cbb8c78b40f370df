//! The French packaging grammar and its parser.
//!
//! Text is a sequence of items separated by whitespace; an item is either junk (any word) or
//! a packaging phrase:
//!
//! ```text
//! packaging      := shape_material | SHAPE, optionally followed by  WS "a" WS RECYCLING
//! shape_material := SHAPE [WS "en"] WS MATERIAL [WS MATERIAL]
//! ```
//!
//! Terminals are matched at a position with their first matching alternative (longest names
//! come first). Several readings of a text are possible; the parser keeps the one with the
//! most shape, material and recycling terminals, and among equally good readings prefers a
//! single item over a list, and a list ending with a packaging over one ending with junk or
//! whitespace. Between packagings that end at the same place, the one starting latest wins,
//! except when they end with a recycling instruction, where the one starting first wins.
//! Where a whitespace item ends, readings ending with a packaging or junk are not kept.
//! These rules reproduce the choices of the Earley parser (Lark) the reference uses.

use super::vocabulary::{TerminalKind, Vocabulary};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// Errors of the packaging grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackagingGrammarError {
    #[error("building the {kind} terminal of the packaging grammar: {message}")]
    Build { kind: &'static str, message: String },
    #[error("no packaging grammar reading of the text (stuck at character {position})")]
    NoParse { position: usize },
}

/// Byte range of a terminal in the normalised text.
pub(crate) type Span = (usize, usize);

/// One packaging phrase found by the parser: the spans of its terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackagingMatch {
    pub shape: Span,
    pub material: Option<Span>,
    pub recycling: Option<Span>,
}

/// The compiled terminals of the grammar.
#[derive(Debug)]
pub(crate) struct Grammar {
    shape: Regex,
    material: Regex,
    recycling: Regex,
    whitespace: Regex,
    other: Regex,
}

fn build(kind: &'static str, pattern: &str) -> Result<Regex, PackagingGrammarError> {
    Regex::new(pattern).map_err(|e| PackagingGrammarError::Build {
        kind,
        message: e.to_string(),
    })
}

fn alternation(vocabulary: &Vocabulary, kind: TerminalKind) -> String {
    let alternatives: Vec<String> = vocabulary
        .names(kind)
        .map(|name| match kind {
            // Shape and material names are regular expressions between word boundaries.
            TerminalKind::Shape | TerminalKind::Material => format!(r"\b{name}\b"),
            TerminalKind::Recycling => regex::escape(name),
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

impl Grammar {
    pub fn new(vocabulary: &Vocabulary) -> Result<Self, PackagingGrammarError> {
        Ok(Self {
            shape: build("shape", &alternation(vocabulary, TerminalKind::Shape))?,
            material: build("material", &alternation(vocabulary, TerminalKind::Material))?,
            recycling: build(
                "recycling",
                &alternation(vocabulary, TerminalKind::Recycling),
            )?,
            whitespace: build("whitespace", r"[ \t\x0C\r\n]+")?,
            other: build("word", r"[^ \t\n\r\x0B\x0C\x1C-\x1F]+")?,
        })
    }

    /// Parses normalised `text` and returns its packaging phrases in text order.
    pub fn parse(&self, text: &str) -> Result<Vec<PackagingMatch>, PackagingGrammarError> {
        Parser {
            grammar: self,
            text,
        }
        .run()
    }
}

/// The best reading of `text[..q]` as a list of items.
#[derive(Debug, Clone)]
struct Best {
    /// Number of shape, material and recycling terminals.
    priority: u32,
    /// Which production built the list (lower wins ties): 0-2 a single packaging, junk or
    /// whitespace item; 3-5 a shorter list followed by one of them.
    rule: u8,
    /// Start of the last item.
    start: usize,
    packaging: Option<PackagingMatch>,
}

impl Best {
    fn ends_with_whitespace(&self) -> bool {
        self.rule == 2 || self.rule == 5
    }

    /// Whether `self`, offered after `other` for the same end position, replaces it.
    fn beats(&self, other: &Best) -> bool {
        match (self.ends_with_whitespace(), other.ends_with_whitespace()) {
            (true, false) => return true,
            (false, true) => return false,
            _ => {}
        }
        let key = |b: &Best| (b.priority, std::cmp::Reverse(b.rule));
        if key(self) != key(other) {
            return key(self) > key(other);
        }
        let recycling_end = self
            .packaging
            .as_ref()
            .is_some_and(|p| p.recycling.is_some());
        // Offers arrive by increasing start: a later start wins unless the packaging ends
        // with a recycling instruction.
        if recycling_end {
            self.start < other.start
        } else {
            self.start > other.start
        }
    }
}

/// A packaging phrase starting at a given position, with its tie-break key.
#[derive(Debug, Clone)]
struct Phrase {
    end: usize,
    priority: u32,
    /// (with recycling? 0 : 1, shape_material? 0 : 1, shape_material variant 0-3).
    order: (u8, u8, u8),
    found: PackagingMatch,
}

/// A shape, or a shape with materials: (end, priority, (shape-only?, variant), material).
type Head = (usize, u32, (u8, u8), Option<Span>);

struct Parser<'g, 't> {
    grammar: &'g Grammar,
    text: &'t str,
}

impl Parser<'_, '_> {
    fn at(&self, regex: &Regex, pos: usize) -> Option<usize> {
        if pos >= self.text.len() {
            return None;
        }
        let input = Input::new(self.text).range(pos..).anchored(Anchored::Yes);
        regex.find(input).map(|m| m.end()).filter(|&end| end > pos)
    }

    fn literal(&self, lit: &str, pos: usize) -> Option<usize> {
        self.text
            .get(pos..)
            .filter(|rest| rest.starts_with(lit))
            .map(|_| pos + lit.len())
    }

    fn ws(&self, pos: usize) -> Option<usize> {
        self.at(&self.grammar.whitespace, pos)
    }

    /// `WS MATERIAL` after `pos`: the end of the material and its span.
    fn ws_material(&self, pos: usize) -> Option<(usize, Span)> {
        let start = self.ws(pos)?;
        let end = self.at(&self.grammar.material, start)?;
        Some((end, (start, end)))
    }

    /// Every packaging phrase starting at `pos`, with the best one per end position.
    fn phrases(&self, pos: usize) -> Vec<Phrase> {
        let Some(shape_end) = self.at(&self.grammar.shape, pos) else {
            return Vec::new();
        };
        let shape = (pos, shape_end);
        let mut heads: Vec<Head> = Vec::new();
        if let Some(en_end) = self.ws(shape_end).and_then(|p| self.literal("en", p)) {
            if let Some((m1_end, m1)) = self.ws_material(en_end) {
                heads.push((m1_end, 2, (0, 1), Some(m1)));
                if let Some((m2_end, m2)) = self.ws_material(m1_end) {
                    heads.push((m2_end, 3, (0, 0), Some(m2)));
                }
            }
        }
        if let Some((m1_end, m1)) = self.ws_material(shape_end) {
            heads.push((m1_end, 2, (0, 3), Some(m1)));
            if let Some((m2_end, m2)) = self.ws_material(m1_end) {
                heads.push((m2_end, 3, (0, 2), Some(m2)));
            }
        }
        heads.push((shape_end, 1, (1, 0), None));

        let mut phrases: Vec<Phrase> = Vec::new();
        for (end, priority, (smos, sm), material) in heads {
            let recycling = self
                .ws(end)
                .and_then(|p| self.literal("a", p))
                .and_then(|p| self.ws(p))
                .and_then(|start| {
                    self.at(&self.grammar.recycling, start)
                        .map(|stop| (start, stop))
                });
            if let Some(span) = recycling {
                phrases.push(Phrase {
                    end: span.1,
                    priority: priority + 1,
                    order: (0, smos, sm),
                    found: PackagingMatch {
                        shape,
                        material,
                        recycling: Some(span),
                    },
                });
            }
            phrases.push(Phrase {
                end,
                priority,
                order: (1, smos, sm),
                found: PackagingMatch {
                    shape,
                    material,
                    recycling: None,
                },
            });
        }
        // Keep the best reading per end position.
        let mut best: Vec<Phrase> = Vec::new();
        for phrase in phrases {
            match best.iter_mut().find(|b| b.end == phrase.end) {
                Some(current) => {
                    if (phrase.priority, std::cmp::Reverse(phrase.order))
                        > (current.priority, std::cmp::Reverse(current.order))
                    {
                        *current = phrase;
                    }
                }
                None => best.push(phrase),
            }
        }
        best
    }

    fn run(&self) -> Result<Vec<PackagingMatch>, PackagingGrammarError> {
        let n = self.text.len();
        let mut table: Vec<Option<Best>> = vec![None; n + 1];
        let mut furthest = 0;
        for k in 0..n {
            let base = if k == 0 {
                Some(0)
            } else {
                table.get(k).and_then(|b| b.as_ref()).map(|b| b.priority)
            };
            let Some(base) = base else { continue };
            furthest = k;
            let list_rule = |single: u8| if k == 0 { single } else { single + 3 };
            let mut offers: Vec<(usize, Best)> = Vec::new();
            for phrase in self.phrases(k) {
                offers.push((
                    phrase.end,
                    Best {
                        priority: base + phrase.priority,
                        rule: list_rule(0),
                        start: k,
                        packaging: Some(phrase.found),
                    },
                ));
            }
            if let Some(end) = self.at(&self.grammar.other, k) {
                offers.push((
                    end,
                    Best {
                        priority: base,
                        rule: list_rule(1),
                        start: k,
                        packaging: None,
                    },
                ));
            }
            if let Some(end) = self.ws(k) {
                offers.push((
                    end,
                    Best {
                        priority: base,
                        rule: list_rule(2),
                        start: k,
                        packaging: None,
                    },
                ));
            }
            for (end, offer) in offers {
                if let Some(slot) = table.get_mut(end) {
                    let replace = match slot {
                        Some(current) => offer.beats(current),
                        None => true,
                    };
                    if replace {
                        *slot = Some(offer);
                    }
                }
            }
        }
        let mut found = Vec::new();
        let mut pos = n;
        loop {
            let Some(best) = table.get(pos).and_then(|b| b.as_ref()) else {
                return Err(PackagingGrammarError::NoParse { position: furthest });
            };
            if let Some(packaging) = &best.packaging {
                found.push(packaging.clone());
            }
            if best.rule < 3 {
                break;
            }
            pos = best.start;
        }
        found.reverse();
        Ok(found)
    }
}
