//! Configuration: YAML files with Authelia's key names, read into one typed tree.

mod duration;
mod secret;

pub use duration::{format_duration, parse_duration, DurationError};
pub use secret::{Secret, GENERATE_SECRET_HINT};
