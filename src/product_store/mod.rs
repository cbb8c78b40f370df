//! The product store, Robotoff's copy of Product Opener's products: filled from the
//! product dump ([`import`]), which is downloaded when it changes ([`dump`]) and also
//! tells which predictions and insights concern products or images that are gone
//! ([`cleanup`]). May use `insights`, `infra`, `types`; single products are refreshed
//! through `infra::product_opener`.

pub mod cleanup;
pub mod dump;
pub mod import;
