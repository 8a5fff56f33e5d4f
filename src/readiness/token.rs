//! `Token`: the caller's name for a registration, handed back with each of its events.

/// Associates readiness events with the handle they belong to.
///
/// Any value works except `Token(usize::MAX)`, which readyio reserves for its own wake-ups:
/// registering it fails with `ErrorKind::InvalidInput`.
///
/// ```
/// use readyio::Token;
/// const LISTENER: Token = Token(0);
/// assert_eq!(LISTENER.as_usize(), 0);
/// assert_eq!(Token::from(3), Token(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

impl Token {
    /// The token readyio keeps for itself (`usize::MAX`).
    pub(crate) const RESERVED: Token = Token(usize::MAX);

    /// The wrapped value.
    pub fn as_usize(self) -> usize {
        self.0
    }
}

impl From<usize> for Token {
    fn from(value: usize) -> Token {
        Token(value)
    }
}

impl From<Token> for usize {
    fn from(token: Token) -> usize {
        token.0
    }
}
