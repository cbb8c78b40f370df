//! Product Opener flavors (`off`, `obf`, `opff`, `opf`, `off_pro`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One Product Opener instance. Stored and exchanged by *name* (`off_pro`), as Robotoff does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ServerType {
    Off,
    Obf,
    Opff,
    Opf,
    OffPro,
}

impl ServerType {
    pub const ALL: [ServerType; 5] = [Self::Off, Self::Obf, Self::Opff, Self::Opf, Self::OffPro];

    /// The name used in the database and the API (`off_pro`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Obf => "obf",
            Self::Opff => "opff",
            Self::Opf => "opf",
            Self::OffPro => "off_pro",
        }
    }

    /// The enum value used by Product Opener (`off-pro`).
    pub fn value(self) -> &'static str {
        match self {
            Self::OffPro => "off-pro",
            other => other.name(),
        }
    }

    /// Product Opener's `product_type` for this flavor, if it has one.
    pub fn product_type(self) -> Option<&'static str> {
        match self {
            Self::Off => Some("food"),
            Self::Obf => Some("beauty"),
            Self::Opff => Some("petfood"),
            Self::Opf => Some("product"),
            Self::OffPro => None,
        }
    }

    /// Server type from Product Opener's `product_type` field.
    pub fn from_product_type(product_type: &str) -> Option<Self> {
        match product_type {
            "food" => Some(Self::Off),
            "beauty" => Some(Self::Obf),
            "petfood" => Some(Self::Opff),
            "product" => Some(Self::Opf),
            _ => None,
        }
    }

    /// Food flavors (`off`, `off_pro`) get the food-only models and importers.
    pub fn is_food(self) -> bool {
        matches!(self, Self::Off | Self::OffPro)
    }
}

impl fmt::Display for ServerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown server type: {0:?} (expected one of off, obf, opff, opf, off_pro)")]
pub struct UnknownServerType(pub String);

impl FromStr for ServerType {
    type Err = UnknownServerType;

    /// Accepts the name (`off_pro`) and the value (`off-pro`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "obf" => Ok(Self::Obf),
            "opff" => Ok(Self::Opff),
            "opf" => Ok(Self::Opf),
            "off_pro" | "off-pro" => Ok(Self::OffPro),
            other => Err(UnknownServerType(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_round_trip() {
        for st in ServerType::ALL {
            assert_eq!(st.name().parse::<ServerType>(), Ok(st));
            assert_eq!(st.value().parse::<ServerType>(), Ok(st));
        }
        assert_eq!(ServerType::OffPro.value(), "off-pro");
        assert!("xyz".parse::<ServerType>().is_err());
        assert_eq!(
            serde_json::to_string(&ServerType::OffPro).ok().as_deref(),
            Some("\"off_pro\"")
        );
    }
}
