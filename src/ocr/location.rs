//! French addresses: a city name from the La Poste list with its postal code nearby.

use super::content::OcrContent;
use super::data_files::{read_text, ResourceError};
use crate::text::{strip_accents_ascii, CharOffsets, KeywordProcessor};
use crate::types::{Prediction, PredictionType};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

const PREDICTOR_VERSION: &str = "1";

/// A city: lowercased name, postal code and GPS coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub name: String,
    pub postal_code: String,
    pub coordinates: Option<(f64, f64)>,
}

/// Every city sharing one name (several communes can have the same name).
pub type CityGroup = Arc<Vec<City>>;

impl crate::text::flashtext::CleanName for CityGroup {}

#[derive(Deserialize)]
struct RawCityItem {
    fields: RawCityFields,
}

#[derive(Deserialize)]
struct RawCityFields {
    nom_de_la_commune: String,
    code_postal: String,
    #[serde(default)]
    coordonnees_gps: Option<(f64, f64)>,
}

/// Identity of a city in the list: name, postal code and coordinates (as bits).
type CityKey = (String, String, Option<(u64, u64)>);

/// Loads the gzipped La Poste JSON list; duplicates are dropped, file order is kept.
pub fn load_cities_fr(path: &Path) -> Result<Vec<City>, ResourceError> {
    let text = read_text(path)?;
    let items: Vec<RawCityItem> =
        serde_json::from_str(&text).map_err(|e| ResourceError::format(path, e.to_string()))?;
    let mut seen: HashSet<CityKey> = HashSet::new();
    let mut cities = Vec::with_capacity(items.len());
    for item in items {
        let f = item.fields;
        let name = f.nom_de_la_commune.to_lowercase();
        if f.code_postal.chars().count() != 5 || !f.code_postal.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ResourceError::format(
                path,
                format!(
                    "{:?}, invalid FR postal code for city {name:?}, must be 5-digits string",
                    f.code_postal
                ),
            ));
        }
        let key = (
            name.clone(),
            f.code_postal.clone(),
            f.coordonnees_gps.map(|(a, b)| (a.to_bits(), b.to_bits())),
        );
        if seen.insert(key) {
            cities.push(City {
                name,
                postal_code: f.code_postal,
                coordinates: f.coordonnees_gps,
            });
        }
    }
    Ok(cities)
}

/// Keyword processor over city names; each name maps to all cities that bear it.
pub fn city_processor(cities: impl IntoIterator<Item = City>) -> KeywordProcessor<CityGroup> {
    let mut groups: Vec<(String, Vec<City>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for city in cities {
        match index.get(&city.name) {
            Some(&i) => {
                if let Some((_, g)) = groups.get_mut(i) {
                    if !g.iter().any(|c| c.postal_code == city.postal_code) {
                        g.push(city);
                    }
                }
            }
            None => {
                index.insert(city.name.clone(), groups.len());
                groups.push((city.name.clone(), vec![city]));
            }
        }
    }
    let mut kp = KeywordProcessor::new(false);
    for (name, group) in groups {
        kp.add_keyword(&name, Arc::new(group));
    }
    kp.compile();
    kp
}

/// Finds addresses: city names in the normalised text, each with its postal code within
/// `postal_code_search_distance` code points.
#[derive(Debug)]
pub struct AddressExtractor<'a> {
    pub cities: &'a KeywordProcessor<CityGroup>,
    pub postal_code_search_distance: usize,
    pub text_extract_distance: usize,
}

impl<'a> AddressExtractor<'a> {
    pub fn new(cities: &'a KeywordProcessor<CityGroup>) -> Self {
        Self {
            cities,
            postal_code_search_distance: 10,
            text_extract_distance: 30,
        }
    }

    /// Lowercased, accents removed, `'` and `-` replaced by spaces.
    pub fn normalize_text(text: &str) -> String {
        strip_accents_ascii(&text.to_lowercase()).replace(['\'', '-'], " ")
    }

    /// Text of the content: the full text, blocks separated by `|` (empty without a full
    /// text annotation: Robotoff's text-annotation fallback never applies).
    pub fn text_of<'t>(content: &OcrContent<'t>) -> &'t str {
        match content {
            OcrContent::Text(t) => t,
            OcrContent::Document(d) => d.text(super::document::OcrField::FullText),
        }
    }

    /// City name matches in `text` (already normalised), as code-point spans.
    pub fn find_city_names<'p>(&'p self, text: &str) -> Vec<(&'p CityGroup, usize, usize)> {
        self.cities
            .extract_keywords(text)
            .into_iter()
            .map(|m| (m.value, m.start, m.end))
            .collect()
    }

    /// The postal code of `city` near the code-point span `city_start..city_end`, not
    /// glued to other digits: `(code, start, end)` in code points.
    pub fn find_nearby_postal_code(
        &self,
        text: &str,
        city: &City,
        city_start: usize,
        city_end: usize,
    ) -> Option<(String, usize, usize)> {
        self.postal_code_near(text, &CharOffsets::new(text), city, city_start, city_end)
    }

    fn postal_code_near(
        &self,
        text: &str,
        offsets: &CharOffsets,
        city: &City,
        city_start: usize,
        city_end: usize,
    ) -> Option<(String, usize, usize)> {
        let code = &city.postal_code;
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let sub_start = city_start.saturating_sub(self.postal_code_search_distance);
        let sub_end = offsets
            .char_count()
            .min(city_end + self.postal_code_search_distance);
        let (b0, b1) = (
            offsets.char_to_byte(sub_start),
            offsets.char_to_byte(sub_end),
        );
        let sub = text.get(b0..b1.max(b0)).unwrap_or("");
        let is_digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        // First occurrence not preceded or followed by an ASCII digit.
        for (i, _) in sub.match_indices(code.as_str()) {
            let before = sub.get(..i).and_then(|r| r.chars().next_back());
            let after = sub.get(i + code.len()..).and_then(|r| r.chars().next());
            if !is_digit(before) && !is_digit(after) {
                let start = offsets.byte_to_char(b0 + i);
                return Some((code.clone(), start, start + code.len()));
            }
        }
        None
    }

    /// One location prediction per city name with a postal code nearby; for a name shared
    /// by several cities, the first city (in list order) whose code is found is used.
    pub fn extract_addresses(&self, content: &OcrContent<'_>) -> Vec<Prediction> {
        let text = Self::normalize_text(Self::text_of(content));
        let offsets = CharOffsets::new(&text);
        let char_count = offsets.char_count();
        let mut out = Vec::new();
        for (group, city_start, city_end) in self.find_city_names(&text) {
            let found = group.iter().find_map(|city| {
                self.postal_code_near(&text, &offsets, city, city_start, city_end)
                    .map(|pc| (city, pc))
            });
            let Some((city, (_, pc_start, pc_end))) = found else {
                continue;
            };
            let start = city_start
                .min(pc_start)
                .saturating_sub(self.text_extract_distance);
            let end = (city_end.max(pc_end) + self.text_extract_distance).min(char_count);
            let extract = text
                .get(offsets.char_to_byte(start)..offsets.char_to_byte(end))
                .unwrap_or("");
            let mut p = Prediction::new(PredictionType::Location);
            p.data = json!({
                "country_code": "fr",
                "city_name": city.name,
                "postal_code": city.postal_code,
                "text_extract": extract,
            });
            p.predictor_version = Some(PREDICTOR_VERSION.into());
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        // tests/unit/prediction/ocr/test_location.py::test_address_extractor_normalize
        assert_eq!(
            AddressExtractor::normalize_text("full text l'île-àÉ$"),
            "full text l ile ae$"
        );
        assert_eq!(AddressExtractor::normalize_text("TEXT É'-č"), "text e  c");
    }
}
