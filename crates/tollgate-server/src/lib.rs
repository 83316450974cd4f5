#![doc = include_str!("../README.md")]

pub mod cli;
mod error;
mod settings;
mod startup;
pub mod telemetry;
mod wiring;

pub use error::ServerError;
pub use settings::{
    AuthSettings, BootstrapSettings, DatabaseSettings, KeySettings, PasswordSettings, SecretString,
    ServerSettings, Settings, TokenSettings,
};
pub use startup::{Application, Overrides};
pub use wiring::{open_services, Services};
