//! Typed settings: `config.toml` < `ROBOTOFF__SECTION__KEY` environment < command-line
//! flags. Uses only `types`; every other module reads its settings from here.

mod load;
mod sections;

pub use load::{ConfigError, Overrides, DEFAULT_CONFIG, ENV_PREFIX};
pub use sections::*;

#[cfg(test)]
mod tests;
