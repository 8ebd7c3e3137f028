//! What can go wrong, and the exit code each failure gives a script to
//! branch on (README, "Command line").

use std::fmt;
use std::process::ExitCode;

/// A failed command: a message for people and a class for scripts.
#[derive(Debug)]
pub struct Failure {
    /// What a script can branch on.
    pub kind: Kind,
    /// One or more lines for standard error; never a secret.
    pub message: String,
}

/// The classes of failure, one exit code each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything below does not cover (a file that cannot be written, …).
    Other,
    /// 3: the deployment refused the credentials (401) or the permission (403).
    Refused,
    /// 4: no such client, project, resource (404).
    NotFound,
    /// 5: conflicts with the current state (409), or changed since read (412).
    Conflict,
    /// 6: the deployment refused the request as invalid (400, 413, 415).
    Invalid,
    /// 7: the deployment cannot be reached, or is not m2m-edge.
    Unreachable,
    /// 8: the deployment failed (5xx) or is limiting this address (429).
    Server,
    /// 9: `verify`: the token is not valid.
    TokenInvalid,
}

impl Kind {
    /// The process exit code (2 is clap's, for usage errors).
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Kind::Other => 1,
            Kind::Refused => 3,
            Kind::NotFound => 4,
            Kind::Conflict => 5,
            Kind::Invalid => 6,
            Kind::Unreachable => 7,
            Kind::Server => 8,
            Kind::TokenInvalid => 9,
        })
    }

    /// The class of an HTTP error status.
    pub fn of_status(status: u16) -> Kind {
        match status {
            401 | 403 => Kind::Refused,
            404 => Kind::NotFound,
            409 | 412 => Kind::Conflict,
            400 | 405 | 413 | 415 | 422 => Kind::Invalid,
            429 | 500..=599 => Kind::Server,
            _ => Kind::Other,
        }
    }
}

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into() }
    }

    /// A local failure (files, input).
    pub fn other(message: impl Into<String>) -> Failure {
        Failure::new(Kind::Other, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A command's result.
pub type Outcome<T = ()> = Result<T, Failure>;
