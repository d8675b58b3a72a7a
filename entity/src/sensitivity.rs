//! How sensitive a resource or capability is.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Sensitivity level, stored as its lower-case name; ordered from least to most sensitive.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum SensitivityLevel {
    /// Public or harmless.
    #[sea_orm(string_value = "low")]
    Low,
    /// The default.
    #[default]
    #[sea_orm(string_value = "medium")]
    Medium,
    /// Needs care.
    #[sea_orm(string_value = "high")]
    High,
    /// Needs the strictest policies.
    #[sea_orm(string_value = "critical")]
    Critical,
}
