//! Extension of ingredient-list NER entities over the "organic" and "allergen
//! traces" mentions that follow them.
//!
//! This is a port of Robotoff's `detect_additional_mentions`
//! (`robotoff/prediction/ingredient_list/postprocess.py`). After the model has
//! found the end of an ingredient list, Robotoff looks at the text just after
//! it and, as long as it finds an organic mention ("*ingrédients issus de
//! l'agriculture biologique", "*organic", ...) or an allergen trace mention
//! ("peut contenir des traces de lait", "contains milk", "puede contener
//! soja", ...), it moves the end of the entity past that mention.
//!
//! All positions taken and returned by this module are character positions
//! (Unicode code points), which is how Python counts string indices. They are
//! not byte offsets.
//!
//! Robotoff finds trace mentions with a Lark grammar (`data/grammars/traces.lark`).
//! Here each of the grammar's nine top-level rules is written out as one
//! regular expression anchored at the start of the text, and the longest of
//! the nine matches is used. This gives the same results as Lark on Robotoff's
//! unit tests and on randomly generated trace phrases.
//!
//! Known small differences from Python, on purpose or not worth copying:
//! * A word boundary (`\b`) uses the `regex` crate's idea of a word character
//!   (letters, marks, digits, connector punctuation). Python uses
//!   `isalnum()` plus `_`. The two only disagree on rare characters such as
//!   combining accents.
//! * Case-insensitive matching of the organic-mention pattern uses Unicode
//!   simple case folding. Python's `re.IGNORECASE` also lets a few special
//!   letters match (for example a dotted capital `İ` matches `i`).
//! * Robotoff's Lark parse raises an error, and the whole prediction fails,
//!   when the text after the entity contains a whitespace character that the
//!   grammar does not know (see [`TraceGrammar`]). This module never fails.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// Whitespace as the trace grammar sees it (Lark's `common.WS`): space, tab,
/// form feed, carriage return and line feed, one or more of them.
const WS: &str = r"[ \t\f\r\n]+";

/// French "of" words: "de", "des", "d'", "d", "du".
const OF_FR: &str = r"(?:\bdes?\b|\bd'|\bd\b|\bdu\b)";

/// French "possible" words: "éventuelle(s)", "eventuelle(s)", "possible(s)".
const POSSIBLE_FR: &str = r"(?:\b[ée]ventuelles?\b|\bpossibles?\b)";

/// French "made" words: "fabriqué", "fabrique", "élaboré", "élabore".
const PRODUCTED_FR: &str = r"(?:\bfabriqu[ée]\b|\bélabor[ée]\b)";

/// French "that uses" words: "qui utilise", "utilisant".
const THAT_USES_FR: &str = r"(?:\bqui utilise\b|\butilisant\b)";

/// Extra allergen names, added to the names read from `trace_allergen.txt`.
///
/// Robotoff builds its allergen list for each language (French, English,
/// Spanish) from the Open Food Facts taxonomies. Those generated lists are not
/// available here, so every language uses the same list instead: all names of
/// the project's `trace_allergen.txt` file (many languages) plus this list.
/// The keyword file has only one or two names per allergen and language and
/// lacks many common French, English and Spanish forms, such as plurals,
/// "fruit à coque", "noix de cajou", "cacahuètes", "jaune d'oeuf", "wheat",
/// "espelta" or "lecitina de soya". Robotoff's own test sentences use these
/// forms. This list holds the usual names of the 14 EU allergens in French,
/// English and Spanish. It also has a few milk products ("lait
/// demi-écrémé", "gorgonzola", ...). Robotoff's French list includes these
/// and one of its test sentences relies on them.
const SUPPLEMENTARY_ALLERGENS: &[&str] = &[
    // French
    "fruits à coque",
    "fruit à coque",
    "arachide",
    "arachides",
    "cacahuète",
    "cacahuètes",
    "noix",
    "noix de cajou",
    "amande",
    "amandes",
    "noisette",
    "noisettes",
    "sésame",
    "soja",
    "lait",
    "lait demi-écrémé",
    "lait écrémé",
    "lait entier",
    "gorgonzola",
    "oeuf",
    "oeufs",
    "œuf",
    "œufs",
    "jaune d'oeuf",
    "jaune d'œuf",
    "gluten",
    "blé",
    "épeautre",
    "moutarde",
    "céleri",
    "poisson",
    "crustacés",
    "mollusques",
    "lupin",
    "sulfites",
    // English
    "milk",
    "egg",
    "eggs",
    "peanut",
    "peanuts",
    "nuts",
    "tree nuts",
    "soy",
    "soya",
    "wheat",
    "sesame",
    "mustard",
    "celery",
    "fish",
    "crustaceans",
    "molluscs",
    "sulphites",
    // Spanish
    "leche",
    "huevo",
    "huevos",
    "lecitina de soya",
    "trigo",
    "espelta",
    "frutos de cáscara",
    "cacahuete",
    "cacahuetes",
    "sésamo",
    "mostaza",
    "apio",
    "pescado",
    "crustáceos",
    "moluscos",
    "altramuces",
    "sulfitos",
];

/// Robotoff's `ORGANIC_MENTIONS_RE`, case-insensitive, anchored at the start
/// of the text. `None` only if the pattern failed to compile, which then
/// means "no organic mention".
static ORGANIC_MENTIONS_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // An optional asterisk-like marker: "*", "* ", "*=", "* = ", "(¹)" or a
    // double quote, followed by an optional space.
    let a = r#"(?:(?:\* ?=?|\(¹\)|") ?)"#;
    // "issu(s) de l'agriculture biologique / bio / durable".
    let f = r"issus? de l'agriculture (?:biologique|bio|durable)";
    let pattern = format!(
        "(?i)^(?:{a}?ingr[ée]dients?(?: agricoles?)? {f}\
         |{a}?produits? {f}\
         |{a}?{f}\
         |{a}organic(?: farming)?\
         |{a}?aus biologischer landwirtschaft\
         |{a}?procedentes del cultivo ecol[óo]gico\
         |{a}?de cultivo ecol[óo]gico certificado\
         |{a}?ingredientes? ecol[óo]gicos?\
         |{a}?biologico)"
    );
    Regex::new(&pattern).ok()
});

/// Whether `c` is whitespace for Python's `str.isspace`: Unicode whitespace
/// plus the four information separators U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Byte offset of the character at index `char_idx` in `text`, or the length
/// of `text` when the index is at or past the end.
fn byte_offset(text: &str, char_idx: usize) -> usize {
    text.char_indices()
        .nth(char_idx)
        .map_or(text.len(), |(byte, _)| byte)
}

/// Length in characters of an organic mention at the very start of `text`,
/// or `None` when `text` does not start with one.
///
/// This is Robotoff's `ORGANIC_MENTIONS_RE` (case-insensitive), for example
/// "*ingrédients issus de l'agriculture biologique", "Produit issu de
/// l'agriculture durable", "*= produits issus de l'agriculture bio",
/// "(¹) issu de l'agriculture biologique", "*organic" (the English form needs
/// the leading marker), "aus biologischer Landwirtschaft" or "de cultivo
/// ecológico certificado". Like Robotoff, the match is made on the original
/// text, not on a lowercased copy.
pub fn organic_mention_at_start(text: &str) -> Option<usize> {
    let re = ORGANIC_MENTIONS_RE.as_ref()?;
    let m = re.find(text)?;
    if m.start() != 0 {
        return None;
    }
    text.get(..m.end()).map(|s| s.chars().count())
}

/// Allergen names for the trace grammar.
///
/// It holds the nine rules of Robotoff's trace grammar, each compiled to one
/// anchored regular expression: French "fabriqué dans un atelier utilisant
/// ...", "(peut contenir des) traces (éventuelles) de ...", "peut contenir
/// ...", "contient (naturellement) ..."; English "(it) may contain (traces of)
/// ...", "contains (traces of) ...", "prepared in premises where traces of
/// ... are used"; Spanish "(este producto) puede contener ...", "(este
/// producto) contiene ...". The "..." is a list of allergen names separated by
/// spaces, commas, "et"/"and"/"y" and, in French, "de"/"du"/"d'".
///
/// Differences from Robotoff:
/// * The allergen names are the same for all three languages, see
///   [`TraceGrammar::from_keyword_lines`].
/// * Robotoff parses the whole rest of the text with Lark, and the parse
///   raises an error if that text contains a whitespace character other than
///   space, tab, form feed, carriage return or line feed. Examples are the
///   no-break space U+00A0, the vertical tab, U+0085, U+2028 and U+001C to
///   U+001F. The error is not caught, so the whole ingredient prediction for
///   the image fails. This module does not fail. It treats such characters
///   as ordinary non-space characters: they do not separate words of a trace
///   mention, so a mention stops before them ("traces de lait" followed by a
///   no-break space ends after "lait").
#[derive(Debug, Clone)]
pub struct TraceGrammar {
    /// The nine grammar rules, each anchored at the start of the lowercased
    /// text. `None` marks a rule whose regular expression failed to compile;
    /// it never matches.
    rules: Vec<Option<Regex>>,
}

impl TraceGrammar {
    /// From the lines of trace_allergen.txt (tag||name), plus the built-in supplement.
    ///
    /// Each line looks like `en:celery||céleri`: an allergen tag, `||`, and
    /// one name of that allergen in some language. Lines without `||` and
    /// empty names are skipped. The names of the file and the built-in list
    /// of common French, English and Spanish names (see the note on
    /// `SUPPLEMENTARY_ALLERGENS` in the source) are lowercased and
    /// deduplicated. They are then tried longest first, each as a whole word
    /// or phrase, so "noix de cajou" wins over "noix". The same names are used
    /// for French, English and Spanish sentences.
    pub fn from_keyword_lines(text: &str) -> TraceGrammar {
        let from_file = text
            .lines()
            .filter_map(|line| line.split_once("||").map(|(_, name)| name));
        let mut names: BTreeSet<String> = BTreeSet::new();
        for name in from_file.chain(SUPPLEMENTARY_ALLERGENS.iter().copied()) {
            let name = name.trim().to_lowercase();
            if !name.is_empty() {
                names.insert(name);
            }
        }
        let mut names: Vec<String> = names.into_iter().collect();
        // Longest first (in characters); ties keep alphabetical order.
        names.sort_by_key(|name| std::cmp::Reverse(name.chars().count()));
        let allergen = if names.is_empty() {
            // No name at all: a pattern that never matches.
            r"[^\s\S]".to_string()
        } else {
            let alternatives: Vec<String> = names
                .iter()
                .map(|name| format!(r"\b{}\b", regex::escape(name)))
                .collect();
            format!("(?:{})", alternatives.join("|"))
        };
        let rules = rule_patterns(&allergen)
            .iter()
            .map(|pattern| Regex::new(&format!("^(?:{pattern})")).ok())
            .collect();
        TraceGrammar { rules }
    }

    /// End (char index into `text`) of a trace mention starting exactly at char `start`, or `start` when none.
    ///
    /// The rest of the text from `start` on is lowercased and the longest
    /// trace mention at its very beginning is looked for. The end is counted
    /// in characters of the lowercased text and added to `start`, as Robotoff
    /// does. Lowercasing keeps the length except for a few letters (the
    /// dotted capital `İ` becomes two characters), so in those rare cases the
    /// result is shifted the same way Robotoff's is, and it may even be past
    /// the end of `text`.
    pub fn detect_trace_mention(&self, text: &str, start: usize) -> usize {
        let rest = text.get(byte_offset(text, start)..).unwrap_or("");
        start + self.trace_length(rest)
    }

    /// Length, in characters of the lowercased `rest`, of the longest trace
    /// mention at the start of `rest`; 0 when there is none.
    fn trace_length(&self, rest: &str) -> usize {
        if rest.is_empty() {
            return 0;
        }
        let lowered = rest.to_lowercase();
        let end = self
            .rules
            .iter()
            .flatten()
            .filter_map(|re| re.find(&lowered))
            .filter(|m| m.start() == 0)
            .map(|m| m.end())
            .max()
            .unwrap_or(0);
        lowered.get(..end).map_or(0, |s| s.chars().count())
    }
}

/// Builds the nine top-level rules of Robotoff's trace grammar as regular
/// expressions, with `allergen` as the allergen-name pattern.
fn rule_patterns(allergen: &str) -> [String; 9] {
    let ws = format!("(?:{WS})");
    let opt_ws = format!("(?:{WS})?");
    let al = allergen;

    // (OF_FR WS?)? ALLERGEN (WS? ("," WS?)? (("et" WS)? (OF_FR WS?)?)? ALLERGEN)*
    let list_fr = format!(
        "(?:{OF_FR}{opt_ws})?{al}\
         (?:{opt_ws}(?:,{opt_ws})?(?:(?:et{ws})?(?:{OF_FR}{opt_ws})?)?{al})*"
    );
    // ALLERGEN (WS? ("," WS)? (("and" WS)? ("of" WS)?)? ALLERGEN)*
    let list_en = format!("{al}(?:{opt_ws}(?:,{ws})?(?:(?:and{ws})?(?:of{ws})?)?{al})*");
    // ALLERGEN (WS? ("," WS)? (("y" WS)?)? ALLERGEN)*
    let list_es = format!("{al}(?:{opt_ws}(?:,{ws})?(?:(?:y{ws})?)?{al})*");

    [
        // manufactured_in_fr: ("produit" WS)? PRODUCTED_FR WS "dans" WS "un"
        // WS "atelier" WS THAT_USES_FR WS? (":" WS)? trace_list_fr
        format!(
            "(?:produit{ws})?{PRODUCTED_FR}{ws}dans{ws}un{ws}atelier{ws}\
             {THAT_USES_FR}{opt_ws}(?::{ws})?{list_fr}"
        ),
        // can_contain_fr: ("peut" WS "contenir" WS "des" WS)? "traces" WS
        // (POSSIBLE_FR? WS)? ("de"? WS? ":" WS?)? trace_list_fr
        format!(
            "(?:peut{ws}contenir{ws}des{ws})?traces{ws}\
             (?:(?:{POSSIBLE_FR})?{ws})?(?:(?:de)?{opt_ws}:{opt_ws})?{list_fr}"
        ),
        // can_contain_2_fr: "peut" WS "contenir" WS? (":" WS?)? trace_list_fr
        format!("peut{ws}contenir{opt_ws}(?::{opt_ws})?{list_fr}"),
        // contains_fr: "contient" (WS "naturellement")? WS trace_list_fr
        format!("contient(?:{ws}naturellement)?{ws}{list_fr}"),
        // can_contain_en: ("it" WS)? "may" WS "contain" WS
        // ("traces" WS "of" WS)? trace_list_en
        format!("(?:it{ws})?may{ws}contain{ws}(?:traces{ws}of{ws})?{list_en}"),
        // contain_en: "contains" (WS "traces" WS "of")? (WS? ":")? WS?
        // trace_list_en
        format!("contains(?:{ws}traces{ws}of)?(?:{opt_ws}:)?{opt_ws}{list_en}"),
        // manufactured_in_en: "prepared" WS "in" WS "premises" WS "where" WS
        // "traces" WS "of" WS trace_list_en WS "are" WS "used"
        format!(
            "prepared{ws}in{ws}premises{ws}where{ws}traces{ws}of{ws}\
             {list_en}{ws}are{ws}used"
        ),
        // can_contain_es: ("este" WS "producto" WS)? "puede" WS "contener"
        // (WS? ":")? WS? trace_list_es
        format!("(?:este{ws}producto{ws})?puede{ws}contener(?:{opt_ws}:)?{opt_ws}{list_es}"),
        // contain_es: ("este" WS "producto" WS)? "contiene" (WS? ":")? WS?
        // trace_list_es
        format!("(?:este{ws}producto{ws})?contiene(?:{opt_ws}:)?{opt_ws}{list_es}"),
    ]
}

/// Extends an entity end (char index) over following organic and trace mentions.
///
/// Starting at `end`, this repeats the following steps as long as one of them
/// finds something:
/// 1. skip whitespace (Python's definition, which includes U+001C to U+001F),
///    dots and commas;
/// 2. if an organic mention starts there, move past it;
/// 3. if a trace mention starts right there (no skipping between the organic
///    mention and the trace mention), move past it.
///
/// The result is the end of the last mention found, so the dot or space after
/// it is not included. When no mention is found, `end` is returned unchanged.
/// All indices are character indices. An `end` past the end of `text` is
/// returned unchanged. The result can be past the end of `text` only in the
/// rare lowercasing case described on [`TraceGrammar::detect_trace_mention`].
pub fn detect_additional_mentions(grammar: &TraceGrammar, text: &str, end: usize) -> usize {
    // Byte offset of each character, plus the text length at the end, so that
    // character indices can be turned into byte offsets cheaply.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(byte, _)| byte)
        .chain(std::iter::once(text.len()))
        .collect();
    let char_count = offsets.len().saturating_sub(1);
    let rest_at = |idx: usize| -> &str {
        offsets
            .get(idx)
            .and_then(|&byte| text.get(byte..))
            .unwrap_or("")
    };

    let initial = end;
    let mut end = end;
    let mut matched = false;
    let mut last_updated = true;
    while last_updated {
        last_updated = false;
        let mut lookup = end;
        if lookup < char_count {
            lookup += rest_at(lookup)
                .chars()
                .take_while(|&c| is_python_space(c) || c == '.' || c == ',')
                .count();
        }
        if let Some(len) = organic_mention_at_start(rest_at(lookup)) {
            matched = true;
            last_updated = true;
            lookup += len;
            end = lookup;
        }
        let trace_len = grammar.trace_length(rest_at(lookup));
        if trace_len > 0 {
            matched = true;
            last_updated = true;
            lookup += trace_len;
            end = lookup;
        }
    }
    if matched {
        end
    } else {
        initial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// The grammar built from the real keyword file, loaded once.
    ///
    /// The file is `../shared/data/ocr/trace_allergen.txt` next to the crate.
    fn grammar() -> &'static TraceGrammar {
        static GRAMMAR: OnceLock<TraceGrammar> = OnceLock::new();
        GRAMMAR.get_or_init(|| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data").to_string();
            let path = std::path::Path::new(&dir).join("ocr/trace_allergen.txt");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read the allergen keyword file {} ({e}); \
                     the shared data directory must be next to the crate",
                    path.display()
                )
            });
            TraceGrammar::from_keyword_lines(&text)
        })
    }

    fn trace(text: &str) -> usize {
        grammar().detect_trace_mention(text, 0)
    }

    fn additional(text: &str, end: usize) -> usize {
        detect_additional_mentions(grammar(), text, end)
    }

    #[test]
    fn all_rules_compile() {
        assert!(ORGANIC_MENTIONS_RE.is_some());
        assert_eq!(grammar().rules.len(), 9);
        assert!(grammar().rules.iter().all(Option::is_some));
    }

    #[test]
    fn organic_mentions_true() {
        for text in [
            "Ingrédients issus de l'agriculture biologique",
            "*Ingrédients agricoles issus de l'agriculture biologique",
            "*issu de l'agriculture biologique",
            "issu de l'agriculture biologique",
            "*Produits issus de l'agriculture biologique",
            "Produit issu de l'agriculture biologique",
            "\"produit issu de l'agriculture durable",
            "*= produits issus de l'agriculture biologique",
            "* = ingrédients issus de l'agriculture durable",
            "* Produit issu de l'Agriculture Biologique",
            "*organic",
            "\"aus biologischer Landwirtschaft",
            "*de cultivo ecologico certificado",
        ] {
            assert_eq!(
                organic_mention_at_start(text),
                Some(text.chars().count()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn organic_mentions_false() {
        for text in ["organic", "agriculture biologique", "produit issu"] {
            assert_eq!(organic_mention_at_start(text), None, "{text:?}");
        }
    }

    #[test]
    fn organic_mention_only_at_start() {
        assert_eq!(organic_mention_at_start("x *organic"), None);
        assert_eq!(organic_mention_at_start("*Organic. may"), Some(8));
        assert_eq!(organic_mention_at_start(""), None);
    }

    #[test]
    fn additional_mentions_robotoff_vectors() {
        let cases: &[(&str, usize, usize)] = &[
            (", *ingrédients issus de l'agriculture biologique", 0, 48),
            (
                "Eau, poireaux*, carottes*, navet*. *= produits issus de l'agriculture durable. Valeurs nutritionnelles",
                33,
                77,
            ),
            (
                "Eau, poireaux*, carottes*, navet*, *ingrédients issus de l'agriculture bio. Valeurs nutritionnelles",
                33,
                74,
            ),
            (
                "Eau, poireaux*, carottes*, navet*, *ingrédients issus de l'agriculture bio. Peut contenir des traces de noix. Valeurs nutritionnelles",
                33,
                108,
            ),
            (
                "Eau, poireaux*, carottes*, navet*. Peut contenir des traces de noix. *ingrédients issus de l'agriculture bio. Valeurs nutritionnelles",
                33,
                108,
            ),
            ("Eau, poireaux*, carottes*, navet*, ", 33, 33),
        ];
        for &(text, i, j) in cases {
            assert_eq!(additional(text, i), j, "{text:?} from {i}");
        }
    }

    #[test]
    fn additional_mentions_extra_vectors() {
        let cases: &[(&str, usize, usize)] = &[
            ("sucre, lait. *Organic. may contain nuts. Next", 11, 39),
            ("sucre, lait (¹) issu de l'agriculture biologique", 11, 48),
            ("sucre, lait\n\n.,  Contains milk", 11, 30),
            ("sucre, lait* organic farming", 11, 28),
            ("abc, may contain nuts. contains milk. xyz", 3, 36),
            ("sucre", 5, 5),
        ];
        for &(text, i, j) in cases {
            assert_eq!(additional(text, i), j, "{text:?} from {i}");
        }
    }

    #[test]
    fn trace_mention_robotoff_vectors() {
        let cases: &[(&str, usize)] = &[
            ("Peut contenir des traces de fruit à coque.", 41),
            (
                "Peut contenir des traces de soja, lait, sésame, amande, noisette, noix de cajou et arachide !",
                91,
            ),
            ("Eau, banane", 0),
            (
                "peut contenir des traces d'arachides et de cacahuètes. Attention",
                53,
            ),
            (
                "produit élaboré dans un atelier utilisant du lait demi-écrémé et du gorgonzola. OTHER",
                78,
            ),
            (
                "OTHER. Peut contenir des traces d'arachides et de cacahuètes",
                0,
            ),
            (
                "contient naturellement du jaune d'oeuf. Info nutritionnelles",
                38,
            ),
            (
                "acontient naturellement du jaune d'oeuf. Info nutritionnelles",
                0,
            ),
            ("contains wheat", 14),
        ];
        for &(text, j) in cases {
            assert_eq!(trace(text), j, "{text:?}");
        }
    }

    #[test]
    fn trace_mention_full_matches() {
        for text in [
            "Peut contenir des traces de fruit à coque",
            "CONTIENE LECHE",
            "Contiene lecitina de soya",
            "Este producto contiene espelta, trigo y gluten",
            "PUEDE CONTENER LECHE",
        ] {
            assert_eq!(trace(text), text.chars().count(), "{text:?}");
        }
    }

    #[test]
    fn trace_mention_extra_vectors() {
        let cases: &[(&str, usize)] = &[
            ("PEUT CONTENIR DES TRACES DE LAIT ET DE SOJA.", 43),
            ("Traces éventuelles de céleri et moutarde", 40),
            ("peut contenir : lait, oeuf", 26),
            ("contains: milk, soy and wheat. store", 29),
            ("it may contain traces of nuts and peanuts", 41),
            ("prepared in premises where traces of milk are used", 50),
            ("prepared in premises where traces of milk are", 0),
            ("este producto puede contener soja y leche.", 41),
            ("contient lait", 13),
            ("contains milk and", 13),
            ("contains milk, and eggs", 23),
            ("traces de lait  , soja", 22),
            ("may contain nuts or milk", 16),
        ];
        for &(text, j) in cases {
            assert_eq!(trace(text), j, "{text:?}");
        }
    }

    /// Robotoff raises on this input (Lark `UnexpectedCharacters`); this
    /// module treats the no-break space as an ordinary non-space character.
    #[test]
    fn no_break_space_does_not_fail() {
        assert_eq!(trace("traces de lait\u{a0}x"), 14);
        // Between words of a mention it breaks the mention.
        assert_eq!(trace("contient\u{a0}lait"), 0);
        assert_eq!(additional("sucre. contient\u{a0}lait", 5), 5);
        // Other characters Robotoff's parser rejects behave the same way.
        assert_eq!(trace("contient lait\u{b}soja"), 13);
        assert_eq!(trace("contient lait\u{1c}"), 13);
        // Before the mention it is skipped like any Python whitespace.
        assert_eq!(additional("sucre,\u{a0}contient lait", 5), 20);
    }

    #[test]
    fn python_whitespace_is_skipped() {
        assert_eq!(additional("sucre\u{1c}contient lait", 5), 19);
        assert_eq!(additional("sucre\u{2028}\u{1f} contains milk", 5), 21);
    }

    #[test]
    fn trace_mention_start_in_the_middle() {
        let text = "Sucre. Contient lait. Fin";
        assert_eq!(grammar().detect_trace_mention(text, 7), 20);
        assert_eq!(grammar().detect_trace_mention(text, 6), 6);
        assert_eq!(grammar().detect_trace_mention(text, 25), 25);
        assert_eq!(grammar().detect_trace_mention(text, 100), 100);
        assert_eq!(grammar().detect_trace_mention("", 0), 0);
    }

    #[test]
    fn end_past_text_is_unchanged() {
        assert_eq!(additional("sucre", 9), 9);
        assert_eq!(additional("", 0), 0);
    }

    #[test]
    fn character_indices_not_bytes() {
        // "é", "œ" and "¹" take several bytes but count as one character.
        let text = "crème, œuf (¹) issu de l'agriculture biologique. contient œufs";
        let organic_end = "crème, œuf (¹) issu de l'agriculture biologique"
            .chars()
            .count();
        assert_eq!(additional(text, 10), text.chars().count());
        assert_eq!(grammar().detect_trace_mention(text, organic_end + 2), 62);
    }

    /// Lowercasing "İ" gives two characters; like Robotoff, the end is
    /// counted in the lowercased text and can go past the original end.
    #[test]
    fn lowercasing_that_changes_length() {
        let g = TraceGrammar::from_keyword_lines("en:test||İlk\n");
        assert_eq!(g.detect_trace_mention("contains İLK", 0), 13);
        assert_eq!(detect_additional_mentions(&g, "x. contains İLK", 1), 16);
    }

    #[test]
    fn keyword_lines_parsing() {
        let g = TraceGrammar::from_keyword_lines("no separator\nen:x||  Zorglub \r\nen:y||\n");
        assert_eq!(g.detect_trace_mention("contains ZORGLUB", 0), 16);
        // The built-in names are always there.
        assert_eq!(g.detect_trace_mention("contains milk", 0), 13);
        let empty = TraceGrammar::from_keyword_lines("");
        assert_eq!(empty.detect_trace_mention("contient noix de cajou", 0), 22);
    }

    #[test]
    fn longest_name_wins() {
        assert_eq!(trace("contient noix de cajou"), 22);
        assert_eq!(trace("contient noix"), 13);
        assert_eq!(trace("contient noixx"), 0);
    }

    /// Rough cost of one call on a 1000-character text.
    /// Run with `cargo test --release -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost_on_1000_chars() {
        let started = Instant::now();
        let g = grammar();
        println!("grammar build: {:?}", started.elapsed());

        let mut text = String::from(
            "Ingrédients : eau, poireaux*, carottes*, navet*, pommes de terre*, crème fraîche, \
             *ingrédients issus de l'agriculture biologique. Peut contenir des traces de lait, \
             soja, sésame et noix de cajou. ",
        );
        while text.chars().count() < 1000 {
            text.push_str(
                "Valeurs nutritionnelles pour 100 g : énergie 250 kJ, matières grasses 2 g. ",
            );
        }
        let text: String = text.chars().take(1000).collect();
        let end =
            "Ingrédients : eau, poireaux*, carottes*, navet*, pommes de terre*, crème fraîche"
                .chars()
                .count();

        let runs = 2000;
        for (label, start) in [("with mentions", end), ("no mention", 0), ("near end", 990)] {
            let t = Instant::now();
            let mut sink = 0;
            for _ in 0..runs {
                sink += detect_additional_mentions(g, &text, start);
            }
            println!(
                "detect_additional_mentions ({label}, start {start}): {:?} per call (result {})",
                t.elapsed() / runs,
                sink / runs as usize
            );
        }
    }
}
