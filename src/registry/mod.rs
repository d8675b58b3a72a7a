//! The registry of governed resources (MCP servers, HTTP APIs, gRPC services) and the
//! capabilities they offer.

pub mod capabilities;
pub mod discovery;
pub mod resources;

use crate::{Error, Result};
use entity::{Protocol, SensitivityLevel};
use sea_orm::ActiveEnum;

/// Parses a protocol name (`mcp`, `http`, `grpc`); anything else is a validation error.
pub fn parse_protocol(value: &str) -> Result<Protocol> {
    Protocol::try_from_value(&value.to_owned())
        .map_err(|_| Error::validation("protocol", format!("{value:?} is not one of mcp, http, grpc")))
}

/// Parses a sensitivity level (`low`, `medium`, `high`, `critical`); anything else is a
/// validation error.
pub fn parse_sensitivity(value: &str) -> Result<SensitivityLevel> {
    SensitivityLevel::try_from_value(&value.to_owned()).map_err(|_| {
        Error::validation("sensitivity_level", format!("{value:?} is not one of low, medium, high, critical"))
    })
}
