//! The taxonomy types the service uses, and the errors of loading and querying them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The taxonomies the service uses, named as Robotoff names them (`category`, `label`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxonomyType {
    Brand,
    Category,
    Ingredient,
    Label,
    PackagingMaterial,
    PackagingRecycling,
    PackagingShape,
}

impl TaxonomyType {
    pub const ALL: [TaxonomyType; 7] = [
        Self::Brand,
        Self::Category,
        Self::Ingredient,
        Self::Label,
        Self::PackagingMaterial,
        Self::PackagingRecycling,
        Self::PackagingShape,
    ];

    /// Robotoff's name for the taxonomy type (`packaging_shape`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Brand => "brand",
            Self::Category => "category",
            Self::Ingredient => "ingredient",
            Self::Label => "label",
            Self::PackagingMaterial => "packaging_material",
            Self::PackagingRecycling => "packaging_recycling",
            Self::PackagingShape => "packaging_shape",
        }
    }

    /// File stem under `<data dir>/taxonomies/` (`packaging_shapes`).
    pub fn file_stem(self) -> &'static str {
        match self {
            Self::Brand => "brands",
            Self::Category => "categories",
            Self::Ingredient => "ingredients",
            Self::Label => "labels",
            Self::PackagingMaterial => "packaging_materials",
            Self::PackagingRecycling => "packaging_recycling",
            Self::PackagingShape => "packaging_shapes",
        }
    }

    /// Path of the taxonomy file in `data_dir`: `taxonomies/<stem>.full.json.gz`.
    pub fn path_in(self, data_dir: &std::path::Path) -> PathBuf {
        data_dir
            .join("taxonomies")
            .join(format!("{}.full.json.gz", self.file_stem()))
    }

    pub(super) fn index(self) -> usize {
        match self {
            Self::Brand => 0,
            Self::Category => 1,
            Self::Ingredient => 2,
            Self::Label => 3,
            Self::PackagingMaterial => 4,
            Self::PackagingRecycling => 5,
            Self::PackagingShape => 6,
        }
    }
}

impl fmt::Display for TaxonomyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TaxonomyType {
    type Err = TaxonomyError;

    /// Accepts Robotoff's name (`packaging_shape`) and the file stem (`packaging_shapes`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s || t.file_stem() == s)
            .ok_or_else(|| TaxonomyError::UnknownType(s.to_string()))
    }
}

/// Errors raised while loading or querying taxonomies.
#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("unknown taxonomy type: {0:?}")]
    UnknownType(String),
    #[error("reading taxonomy file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing taxonomy file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("parsing taxonomy JSON: {0}")]
    ParseJson(#[source] serde_json::Error),
    #[error("unknown id in taxonomy: {0}")]
    UnknownId(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_from_names_and_file_stems() {
        for t in TaxonomyType::ALL {
            assert_eq!(t.name().parse::<TaxonomyType>().ok(), Some(t));
            assert_eq!(t.file_stem().parse::<TaxonomyType>().ok(), Some(t));
            assert_eq!(TaxonomyType::ALL.get(t.index()), Some(&t));
        }
        assert!("colour".parse::<TaxonomyType>().is_err());
    }
}
