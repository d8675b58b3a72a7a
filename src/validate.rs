//! Input checks that run at the repository edge, before any SQL (the bounds are in
//! [`crate::limits`]).

use crate::limits::{
    MAX_DESCRIPTION_CHARS, MAX_ENDPOINT_CHARS, MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_NAME_CHARS,
};
use crate::{Error, Result};
use serde_json::Value as Json;
use std::io;
use url::{Host, Url};

/// A non-empty, non-blank string of at most [`MAX_NAME_CHARS`] characters.
pub(crate) fn name(field: &'static str, value: &str) -> Result<()> {
    text(field, value, MAX_NAME_CHARS)
}

/// A non-empty, non-blank string of at most `max` characters, without U+0000.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

/// A string (possibly empty) of at most `max` characters, without U+0000.
fn optional_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    key(field, value)?;
    let len = value.chars().count();
    if len > max {
        return Err(Error::validation(field, format!("is {len} characters long; at most {max} are allowed")));
    }
    Ok(())
}

/// An optional label: when present, the [`name`] rules apply.
pub(crate) fn label(field: &'static str, value: Option<&str>) -> Result<()> {
    value.map_or(Ok(()), |v| name(field, v))
}

/// An optional description: at most [`MAX_DESCRIPTION_CHARS`] characters, without U+0000.
pub(crate) fn description(value: Option<&str>) -> Result<()> {
    value.map_or(Ok(()), |v| optional_text("description", v, MAX_DESCRIPTION_CHARS))
}

/// A value looked up or filtered by: anything without U+0000 (no stored value has one, and
/// PostgreSQL cannot even compare it).
pub(crate) fn key(field: &'static str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::validation(field, "must not contain U+0000"));
    }
    Ok(())
}

/// An optional value looked up or filtered by; see [`key`].
pub(crate) fn optional_key(field: &'static str, value: Option<&str>) -> Result<()> {
    value.map_or(Ok(()), |v| key(field, v))
}

/// An absolute `https` URL without credentials; `http` only for a loopback host.
pub(crate) fn federation_endpoint(value: &str) -> Result<()> {
    let refuse = |reason: String| Err(Error::validation("endpoint", reason));
    text("endpoint", value, MAX_ENDPOINT_CHARS)?;
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
pub(crate) fn rate_limit(per_hour: i32) -> Result<()> {
    if per_hour > 0 {
        Ok(())
    } else {
        Err(Error::validation("rate_limit_per_hour", format!("is {per_hour}; it must be at least 1")))
    }
}

/// A JSON object (not an array, string, number, bool or null), nested at most
/// [`MAX_JSON_DEPTH`] levels, at most [`MAX_JSON_BYTES`] of JSON text, without U+0000 in any
/// string or key. The depth is checked without recursion, before anything else reads the
/// value, so that no nesting can exhaust the stack.
pub(crate) fn json_object(field: &'static str, value: &Json) -> Result<()> {
    if !value.is_object() {
        return Err(Error::validation(field, "must be a JSON object"));
    }
    let mut stack = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Json>> = match value {
            Json::String(s) => {
                key(field, s)?;
                continue;
            }
            Json::Number(n) => {
                float_reads_back(field, n)?;
                continue;
            }
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(map) => {
                map.keys().try_for_each(|k| key(field, k))?;
                Box::new(map.values())
            }
            _ => continue,
        };
        if depth > MAX_JSON_DEPTH {
            return Err(Error::validation(field, format!("is nested deeper than {MAX_JSON_DEPTH} levels")));
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    // Bounded depth makes serialising safe; the writer stops at the limit.
    let mut size = Size(0);
    if serde_json::to_writer(&mut size, value).is_err() {
        return Err(Error::validation(field, format!("is larger than {MAX_JSON_BYTES} bytes of JSON")));
    }
    Ok(())
}

/// Refuses a floating-point number PostgreSQL would return as an integer: `jsonb` keeps
/// `1e16` as `10000000000000000`, which reads back as an integer, not the float written.
fn float_reads_back(field: &'static str, n: &serde_json::Number) -> Result<()> {
    const INTEGRAL_TEXT: std::ops::Range<f64> = 1e16..18_446_744_073_709_551_616.0;
    match n.as_f64() {
        Some(x) if n.is_f64() && INTEGRAL_TEXT.contains(&x.abs()) => Err(Error::validation(
            field,
            format!("holds the float {x}, which reads back as an integer; write it as one"),
        )),
        _ => Ok(()),
    }
}

/// Counts bytes written and fails past [`MAX_JSON_BYTES`].
struct Size(usize);

impl io::Write for Size {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_JSON_BYTES { Err(io::Error::other("too large")) } else { Ok(buf.len()) }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An ISO 4217 currency code, e.g. `USD`.
pub(crate) fn currency(value: &str) -> Result<()> {
    iso_currency::Currency::from_code(value)
        .map(|_| ())
        .ok_or_else(|| Error::validation("currency", format!("{value:?} is not an ISO 4217 currency code")))
}
