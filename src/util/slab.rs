//! `Slab<T>`: the `slab` crate's slab, keyed by [`Token`] instead of `usize`, with the
//! seed's fixed capacity and token offset.
//!
//! A server keeps one entry per connection and registers each socket under the token its
//! entry got, so an event's token leads straight back to the connection. Low tokens can be
//! kept for listeners by starting the slab at an offset (`new_starting_at(Token(1), ..)`).

use crate::readiness::token::Token;
use std::io;
use std::ops::{Index, IndexMut};

/// A slab of `T` whose keys are [`Token`]s.
///
/// Two kinds of slab, chosen at construction:
/// * **fixed** (`new`, `with_capacity`, `new_starting_at`): storage for `capacity` entries
///   is allocated up front, nothing allocates afterwards, and `insert` into a full slab
///   returns the value back as `Err` (a server then refuses the connection) instead of
///   growing or panicking. [`Slab::grow`] raises the limit explicitly.
/// * **growable** (`growable`, `growable_starting_at`): `insert` grows the storage as a
///   `Vec` does.
///
/// Either way `Token(usize::MAX)` is never handed out (readyio reserves it), and a token
/// the slab did not give out, or already took back, is `None`, not a panic (except through
/// `Index`, which panics like every `Index`).
///
/// ```
/// use readyio::util::Slab;
/// use readyio::Token;
///
/// const LISTENER: Token = Token(0);
/// let mut connections = Slab::new_starting_at(Token(1), 2);
/// let a = connections.insert("a").unwrap();
/// let b = connections.insert("b").unwrap();
/// assert_ne!(a, LISTENER);
/// assert_eq!(connections.insert("c"), Err("c")); // full: the value comes back
/// assert_eq!(connections.remove(a), Some("a"));
/// assert_eq!(connections[b], "b");
/// ```
#[derive(Clone, Debug)]
pub struct Slab<T> {
    entries: ::slab::Slab<T>,
    /// The token of key 0.
    offset: usize,
    /// The most entries a fixed slab holds; `None` for a growable one.
    limit: Option<usize>,
}

impl<T> Slab<T> {
    /// A fixed slab for at most `capacity` entries, tokens from `Token(0)` (the seed's
    /// `Slab::new`). Same as [`with_capacity`](Slab::with_capacity).
    ///
    /// # Panics
    /// As [`new_starting_at`](Slab::new_starting_at).
    pub fn new(capacity: usize) -> Slab<T> {
        Slab::new_starting_at(Token(0), capacity)
    }

    /// A fixed slab for at most `capacity` entries, tokens from `Token(0)`.
    ///
    /// Unlike `Vec::with_capacity`, the capacity is a limit: see [`Slab`].
    ///
    /// # Panics
    /// As [`new_starting_at`](Slab::new_starting_at).
    pub fn with_capacity(capacity: usize) -> Slab<T> {
        Slab::new_starting_at(Token(0), capacity)
    }

    /// A fixed slab for at most `capacity` entries whose tokens start at `first`, so the
    /// tokens below it stay free for other uses (listeners, timers).
    ///
    /// # Panics
    /// If the storage for `capacity` entries is more than `isize::MAX` bytes or the
    /// allocator refuses it (a panic where `Vec::with_capacity` would abort the process).
    /// [`try_new_starting_at`](Slab::try_new_starting_at) returns an error instead.
    pub fn new_starting_at(first: Token, capacity: usize) -> Slab<T> {
        match Slab::try_new_starting_at(first, capacity) {
            Ok(slab) => slab,
            Err(e) => panic!("Slab of {capacity} entries: {e}"),
        }
    }

    /// [`with_capacity`](Slab::with_capacity) with an `OutOfMemory` error instead of a panic.
    ///
    /// ```
    /// use readyio::util::Slab;
    ///
    /// let slab = Slab::<u64>::try_with_capacity(1024)?;
    /// assert_eq!(slab.capacity(), 1024);
    /// let absurd = Slab::<u64>::try_with_capacity(usize::MAX).unwrap_err();
    /// assert_eq!(absurd.kind(), std::io::ErrorKind::OutOfMemory);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_with_capacity(capacity: usize) -> io::Result<Slab<T>> {
        Slab::try_new_starting_at(Token(0), capacity)
    }

    /// [`new_starting_at`](Slab::new_starting_at) with an `OutOfMemory` error instead of a
    /// panic.
    pub fn try_new_starting_at(first: Token, capacity: usize) -> io::Result<Slab<T>> {
        ensure_storage::<T>(capacity)?;
        Ok(Slab { entries: ::slab::Slab::with_capacity(capacity), offset: first.0, limit: Some(capacity) })
    }

    /// A slab that grows as needed, tokens from `Token(0)`.
    pub fn growable() -> Slab<T> {
        Slab::growable_starting_at(Token(0))
    }

    /// A slab that grows as needed, tokens from `first`.
    pub fn growable_starting_at(first: Token) -> Slab<T> {
        Slab { entries: ::slab::Slab::new(), offset: first.0, limit: None }
    }

    /// Whether `insert` grows the slab instead of failing when it is full.
    pub fn is_growable(&self) -> bool {
        self.limit.is_none()
    }

    /// The most entries the slab holds without failing (fixed) or reallocating (growable).
    pub fn capacity(&self) -> usize {
        self.limit.unwrap_or_else(|| self.entries.capacity())
    }

    /// Raises a fixed slab's limit by `additional` entries, allocating now rather than at
    /// insert time; for a growable slab, reserves room for `additional` more entries.
    ///
    /// # Panics
    /// If the storage is more than `isize::MAX` bytes or the allocator refuses it;
    /// [`try_grow`](Slab::try_grow) returns an error instead.
    pub fn grow(&mut self, additional: usize) {
        if let Err(e) = self.try_grow(additional) {
            panic!("Slab::grow({additional}): {e}");
        }
    }

    /// [`grow`](Slab::grow) with an `OutOfMemory` error (leaving the slab as it was)
    /// instead of a panic.
    pub fn try_grow(&mut self, additional: usize) -> io::Result<()> {
        let len = self.entries.len();
        match self.limit {
            Some(limit) => {
                let limit = limit.saturating_add(additional);
                ensure_storage::<T>(limit)?;
                self.entries.reserve_exact(limit - len);
                self.limit = Some(limit);
            }
            None => {
                ensure_storage::<T>(len.saturating_add(additional))?;
                self.entries.reserve_exact(additional);
            }
        }
        Ok(())
    }

    /// How many entries the slab holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The seed's name for [`len`](Slab::len).
    pub fn count(&self) -> usize {
        self.len()
    }

    /// Whether the slab holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether another `insert` can succeed (always, for a growable slab, until tokens run out).
    pub fn has_remaining(&self) -> bool {
        self.limit.map_or(true, |limit| self.entries.len() < limit) && self.next_token().is_some()
    }

    /// The token the next `insert` would return, if it can succeed.
    fn next_token(&self) -> Option<Token> {
        match self.offset.checked_add(self.entries.vacant_key()) {
            Some(token) if token != Token::RESERVED.0 => Some(Token(token)),
            _ => None,
        }
    }

    /// Stores `value` and returns its token; gives `value` back as `Err` when a fixed slab
    /// is full or the token space (`usize::MAX` is reserved) is used up.
    pub fn insert(&mut self, value: T) -> Result<Token, T> {
        match self.has_remaining() {
            true => Ok(Token(self.offset + self.entries.insert(value))),
            false => Err(value),
        }
    }

    /// Stores the value `make` builds from its token (for entries that need to know their
    /// own token); `None`, without calling `make`, when `insert` would fail.
    pub fn insert_with<F: FnOnce(Token) -> T>(&mut self, make: F) -> Option<Token> {
        if !self.has_remaining() {
            return None;
        }
        let entry = self.entries.vacant_entry();
        let token = Token(self.offset + entry.key());
        entry.insert(make(token));
        Some(token)
    }

    /// Takes the entry for `token` out; `None` if there is none.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        self.entries.try_remove(self.key(token)?)
    }

    /// The entry for `token`, if there is one.
    pub fn get(&self, token: Token) -> Option<&T> {
        self.entries.get(self.key(token)?)
    }

    /// The entry for `token`, mutably, if there is one.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        let key = self.key(token)?;
        self.entries.get_mut(key)
    }

    /// Whether there is an entry for `token`.
    pub fn contains(&self, token: Token) -> bool {
        self.get(token).is_some()
    }

    /// Removes every entry (a fixed slab keeps its storage and limit).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain<F: FnMut(Token, &mut T) -> bool>(&mut self, mut keep: F) {
        let offset = self.offset;
        self.entries.retain(|key, value| keep(Token(offset + key), value));
    }

    /// The entries with their tokens, in token order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { entries: self.entries.iter(), offset: self.offset }
    }

    /// The entries with their tokens, mutably, in token order.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut { entries: self.entries.iter_mut(), offset: self.offset }
    }

    /// The slab key of `token`, if `token` is in the slab's range.
    fn key(&self, token: Token) -> Option<usize> {
        token.0.checked_sub(self.offset)
    }
}

/// The shape of one entry of the `slab` crate (0.4's private `enum Entry<T> { Vacant(usize),
/// Occupied(T) }`): what its storage is an array of.
#[allow(dead_code)] // never built: only its layout is used
enum EntryShape<T> {
    Vacant(usize),
    Occupied(T),
}

/// Asks the allocator for the storage of `entries` slab entries and gives it back, so that
/// a size it refuses is an error here: the `slab` crate has no fallible constructor, and
/// `Vec::with_capacity` under it panics on an oversized request and aborts on a refused one.
fn ensure_storage<T>(entries: usize) -> io::Result<()> {
    let mut probe: Vec<EntryShape<T>> = Vec::new();
    probe
        .try_reserve_exact(entries)
        .map_err(|e| crate::sys::reserve_error(format_args!("a slab of {entries} entries"), e))
}

impl<T> Default for Slab<T> {
    /// A growable slab starting at `Token(0)`.
    fn default() -> Slab<T> {
        Slab::growable()
    }
}

impl<T> Index<Token> for Slab<T> {
    type Output = T;

    /// # Panics
    /// If there is no entry for `token`; use [`Slab::get`] when that can happen.
    fn index(&self, token: Token) -> &T {
        match self.get(token) {
            Some(value) => value,
            None => panic!("no slab entry for {token:?}"),
        }
    }
}

impl<T> IndexMut<Token> for Slab<T> {
    /// # Panics
    /// If there is no entry for `token`; use [`Slab::get_mut`] when that can happen.
    fn index_mut(&mut self, token: Token) -> &mut T {
        match self.get_mut(token) {
            Some(value) => value,
            None => panic!("no slab entry for {token:?}"),
        }
    }
}

/// Iterator over a [`Slab`]'s entries and their tokens, from [`Slab::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    entries: ::slab::Iter<'a, T>,
    offset: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (Token, &'a T);

    fn next(&mut self) -> Option<(Token, &'a T)> {
        self.entries.next().map(|(key, value)| (Token(self.offset + key), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

/// Iterator over a [`Slab`]'s entries, mutably, and their tokens, from [`Slab::iter_mut`].
#[derive(Debug)]
pub struct IterMut<'a, T> {
    entries: ::slab::IterMut<'a, T>,
    offset: usize,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = (Token, &'a mut T);

    fn next(&mut self) -> Option<(Token, &'a mut T)> {
        self.entries.next().map(|(key, value)| (Token(self.offset + key), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<'a, T> IntoIterator for &'a Slab<T> {
    type Item = (Token, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Slab<T> {
    type Item = (Token, &'a mut T);
    type IntoIter = IterMut<'a, T>;

    fn into_iter(self) -> IterMut<'a, T> {
        self.iter_mut()
    }
}
