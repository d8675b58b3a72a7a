//! Input checks that run at the repository edge, before any SQL.

use crate::{Error, Result};
use serde_json::Value as Json;
use url::{Host, Url};

/// Longest name, id or label accepted, in characters.
pub const MAX_LEN: usize = 255;

/// Longest endpoint (URL or command line) accepted, in characters.
pub const MAX_ENDPOINT_LEN: usize = 2_048;

/// A non-empty, non-blank string of at most [`MAX_LEN`] characters.
pub fn name(field: &'static str, value: &str) -> Result<()> {
    text(field, value, MAX_LEN)
}

/// A non-empty, non-blank string of at most `max` characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    let len = value.chars().count();
    if len > max {
        return Err(Error::validation(field, format!("is {len} characters long; at most {max} are allowed")));
    }
    Ok(())
}

/// An optional label: when present, the [`name`] rules apply.
pub fn label(field: &'static str, value: Option<&str>) -> Result<()> {
    value.map_or(Ok(()), |v| name(field, v))
}

/// An absolute `https` URL without credentials; `http` only for a loopback host.
pub fn federation_endpoint(value: &str) -> Result<()> {
    let refuse = |reason: String| Err(Error::validation("endpoint", reason));
    text("endpoint", value, MAX_ENDPOINT_LEN)?;
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(e) => return refuse(format!("{value:?} is not an absolute URL ({e})")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not carry credentials".into());
    }
    match (url.scheme(), url.host()) {
        (_, None) => refuse("must name a host".into()),
        ("https", Some(_)) => Ok(()),
        ("http", Some(host)) if is_loopback(&host) => Ok(()),
        ("http", Some(_)) => refuse("http is allowed only for loopback hosts; use https".into()),
        (scheme, Some(_)) => refuse(format!("scheme {scheme:?} is not allowed; use https")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A rate limit of at least one request per hour.
pub fn rate_limit(per_hour: i32) -> Result<()> {
    if per_hour > 0 {
        Ok(())
    } else {
        Err(Error::validation("rate_limit_per_hour", format!("is {per_hour}; it must be at least 1")))
    }
}

/// A JSON object (not an array, string, number, bool or null).
pub fn json_object(field: &'static str, value: &Json) -> Result<()> {
    if value.is_object() { Ok(()) } else { Err(Error::validation(field, "must be a JSON object")) }
}

/// An ISO 4217 currency code, e.g. `USD`.
pub fn currency(value: &str) -> Result<()> {
    iso_currency::Currency::from_code(value)
        .map(|_| ())
        .ok_or_else(|| Error::validation("currency", format!("{value:?} is not an ISO 4217 currency code")))
}
