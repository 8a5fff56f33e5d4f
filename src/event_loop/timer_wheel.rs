//! `TimerWheel`: the event loop's timers, a hierarchical timing wheel over a fixed slab.
//!
//! # Layout
//!
//! Time is counted in nanoseconds from an origin the owner picks, and cut into *ticks* of
//! `tick_ns` (1 ms in the event loop's default configuration). The wheel has `levels`
//! levels of `slots` slots each (`slots` a power of two, 2^`bits`); a slot at level `k`
//! spans 2^(`k`·`bits`) ticks, so level 0 slots are single ticks and enough levels are
//! kept to cover every `u64` tick. `elapsed` is the tick up to which the wheel has been
//! advanced.
//!
//! An entry whose deadline falls in tick `t > elapsed` is filed at the level of the
//! highest bit in which `t` and `elapsed` differ, in the slot named by `t`'s digit at that
//! level (the scheme of Varghese & Lauck's hierarchical wheels, as in tokio's). An entry
//! whose tick is `<= elapsed` is on the *due list* instead, sorted by exact deadline.
//!
//! Every entry lives in one preallocated slab (`Vec` with capacity `capacity`, grown within
//! that capacity, never reallocated) and is linked into its slot or the due list through
//! `prev`/`next` indices, so insert and cancel are O(1) and nothing allocates after
//! [`TimerWheel::new`]. A bitmap per level says which slots are occupied, so the next
//! occupied slot is found with a few `trailing_zeros`, not by stepping through empty ticks.
//!
//! # Invariants
//!
//! 1. An entry at level `k` has the same digits as `elapsed` above level `k` and a larger
//!    digit at level `k`. Hence a slot never holds entries of two different rotations, the
//!    occupied slots of a level all lie ahead of `elapsed`, and the earliest occupied slot
//!    of the lowest occupied level is the next one to come due.
//! 2. The due list holds exactly the entries whose tick is `<= elapsed`, ordered by deadline
//!    (equal deadlines in insertion order when inserted one by one).
//! 3. `level0_min[s]` is at most the smallest deadline in level-0 slot `s` (it may be
//!    smaller after a cancel, which only makes the owner wake a little early, never late),
//!    and `u64::MAX` when the slot is empty.
//! 4. A slab entry is either free (on the free list, no value) or on exactly one list, and
//!    its `generation` changes every time it is freed, so a stale [`TimerKey`] (of a timer
//!    that fired or was cancelled) never matches the entry's next occupant.
//!
//! # Firing
//!
//! [`TimerWheel::poll`]`(now)` pops the head of the due list if its deadline is `<= now`.
//! Otherwise, if `now` has moved into a later tick, it advances `elapsed`: it takes the
//! next occupied slot whose first tick is `<= now`'s tick, sets `elapsed` to that first
//! tick, re-files the slot's entries one level down (cascading) or, for those whose tick
//! is now `elapsed`, sorts them by deadline and appends them to the due list; and repeats.
//! A timer therefore never fires before its deadline (only entries with `deadline <= now`
//! leave), and timers fire in deadline order, including several in the same tick. An entry
//! cascades at most once per level, so expiry costs O(levels) amortised per timer.
//!
//! [`TimerWheel::next_deadline`] is the exact deadline of the due list's head, else the
//! `level0_min` of the next occupied level-0 slot, else the start of the next occupied
//! higher-level slot (where a cascade must happen): the owner sleeps until then, so timers
//! cost no syscall of their own.
//!
//! This file uses only `std`, so benchmarks and tests can include it by path.

/// No entry: the end of a list or an empty slot.
const NIL: u32 = u32::MAX;
/// `Entry::list` of a free entry.
const LIST_FREE: u32 = u32::MAX;
/// `Entry::list` of an entry on the due list.
const LIST_DUE: u32 = u32::MAX - 1;

/// Names one timer in a [`TimerWheel`]: its slab index and the generation the entry had
/// when the timer was inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

/// One slab slot: a pending timer or a free cell.
#[derive(Debug)]
struct Entry<T> {
    deadline_ns: u64,
    value: Option<T>,
    generation: u32,
    /// `LIST_FREE`, `LIST_DUE`, or the slot list index `level * slots + slot`.
    list: u32,
    prev: u32,
    next: u32,
}

/// A hierarchical timing wheel holding up to `capacity` timers with values of type `T`.
#[derive(Debug)]
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
    tick_ns: u64,
    bits: u32,
    slots: usize,
    levels: usize,
    /// First entry of each slot list, `levels * slots` of them.
    heads: Vec<u32>,
    /// Occupancy bitmap, `words_per_level` words per level.
    occupied: Vec<u64>,
    words_per_level: usize,
    /// See invariant 3.
    level0_min: Vec<u64>,
    due_head: u32,
    due_tail: u32,
    elapsed: u64,
    /// Indices of the entries a cascade moves to the due list, sorted there; preallocated.
    scratch: Vec<u32>,
}

impl<T> TimerWheel<T> {
    /// The most timers a wheel can hold (slab indices are `u32`, two values reserved).
    pub const MAX_CAPACITY: usize = (u32::MAX - 2) as usize;

    /// A wheel for up to `capacity` timers with ticks of `tick_ns` nanoseconds and
    /// `slots_per_level` slots per level (rounded up to a power of two, at least 2).
    /// Everything the wheel will ever use is allocated here.
    ///
    /// `tick_ns` is raised to 1 and `capacity` capped at [`Self::MAX_CAPACITY`].
    pub fn new(capacity: usize, tick_ns: u64, slots_per_level: usize) -> TimerWheel<T> {
        let capacity = capacity.min(Self::MAX_CAPACITY);
        let slots = slots_per_level.clamp(2, 1 << 16).next_power_of_two();
        let bits = slots.trailing_zeros();
        let levels = 64usize.div_ceil(bits as usize);
        let words_per_level = slots.div_ceil(64);
        TimerWheel {
            entries: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
            tick_ns: tick_ns.max(1),
            bits,
            slots,
            levels,
            heads: vec![NIL; levels * slots],
            occupied: vec![0; levels * words_per_level],
            words_per_level,
            level0_min: vec![u64::MAX; slots],
            due_head: NIL,
            due_tail: NIL,
            elapsed: 0,
            scratch: Vec::with_capacity(capacity),
        }
    }

    /// How many timers are pending.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer firing at `deadline_ns` (a deadline already past fires at the next
    /// [`poll`](Self::poll)). O(1). Gives `value` back if the wheel is full.
    pub fn insert(&mut self, deadline_ns: u64, value: T) -> Result<TimerKey, T> {
        let index = if self.free_head != NIL {
            let index = self.free_head;
            self.free_head = self.entries[index as usize].next;
            let entry = &mut self.entries[index as usize];
            entry.deadline_ns = deadline_ns;
            entry.value = Some(value);
            index
        } else if self.entries.len() < self.entries.capacity() {
            self.entries.push(Entry {
                deadline_ns,
                value: Some(value),
                generation: 0,
                list: LIST_FREE,
                prev: NIL,
                next: NIL,
            });
            (self.entries.len() - 1) as u32
        } else {
            return Err(value);
        };
        self.len += 1;
        self.file(index);
        Ok(TimerKey { index, generation: self.entries[index as usize].generation })
    }

    /// Removes a pending timer and returns its value; `None` (touching nothing) if `key`'s
    /// timer already fired or was cancelled. O(1).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation || entry.list == LIST_FREE {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The deadline the owner should wake up at next (see the module docs), or `None`
    /// if no timer is pending. Never later than the earliest pending deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.due_head != NIL {
            return Some(self.entries[self.due_head as usize].deadline_ns);
        }
        let (level, slot, first_tick) = self.next_occupied_slot()?;
        let start_ns = first_tick.saturating_mul(self.tick_ns);
        if level == 0 {
            Some(self.level0_min[slot].max(start_ns))
        } else {
            Some(start_ns)
        }
    }

    /// Removes and returns the value of the earliest timer whose deadline is `<= now_ns`,
    /// advancing the wheel as needed. Call it until it says `None`.
    pub fn poll(&mut self, now_ns: u64) -> Option<T> {
        if let Some(value) = self.pop_due(now_ns) {
            return Some(value);
        }
        let now_tick = now_ns / self.tick_ns;
        if now_tick > self.elapsed {
            self.advance(now_tick);
            return self.pop_due(now_ns);
        }
        None
    }

    fn pop_due(&mut self, now_ns: u64) -> Option<T> {
        let head = self.due_head;
        if head == NIL || self.entries[head as usize].deadline_ns > now_ns {
            return None;
        }
        self.unlink(head);
        Some(self.release(head))
    }

    /// Moves `elapsed` up to `now_tick`, emptying every slot that comes due on the way.
    fn advance(&mut self, now_tick: u64) {
        while let Some((level, slot, first_tick)) = self.next_occupied_slot() {
            if first_tick > now_tick {
                break;
            }
            self.elapsed = first_tick;
            self.cascade(level, slot);
        }
        // Invariant 1 holds for the new `elapsed`: every occupied slot starts after it.
        self.elapsed = now_tick;
    }

    /// Empties a slot that came due: its entries of tick `elapsed` go to the due list in
    /// deadline order, the others down to a lower level.
    fn cascade(&mut self, level: usize, slot: usize) {
        let list = level * self.slots + slot;
        let mut index = self.heads[list];
        self.heads[list] = NIL;
        self.set_occupied(level, slot, false);
        if level == 0 {
            self.level0_min[slot] = u64::MAX;
        }
        while index != NIL {
            let next = self.entries[index as usize].next;
            let tick = self.entries[index as usize].deadline_ns / self.tick_ns;
            if tick <= self.elapsed {
                self.scratch.push(index);
            } else {
                self.file_in_slot(index, tick);
            }
            index = next;
        }
        // Everything on the due list has a tick before `elapsed`, so the sorted batch goes
        // after it (invariant 2).
        let entries = &self.entries;
        self.scratch.sort_unstable_by_key(|&i| entries[i as usize].deadline_ns);
        for k in 0..self.scratch.len() {
            let index = self.scratch[k];
            self.push_due_back(index);
        }
        self.scratch.clear();
    }

    /// Files a linked-nowhere entry on the due list or in its slot.
    fn file(&mut self, index: u32) {
        let tick = self.entries[index as usize].deadline_ns / self.tick_ns;
        if tick <= self.elapsed {
            self.insert_due_sorted(index);
        } else {
            self.file_in_slot(index, tick);
        }
    }

    fn file_in_slot(&mut self, index: u32, tick: u64) {
        let highest_differing_bit = 63 - (tick ^ self.elapsed).leading_zeros();
        let level = (highest_differing_bit / self.bits) as usize;
        let slot = ((tick >> (level as u32 * self.bits)) as usize) & (self.slots - 1);
        let list = level * self.slots + slot;
        let head = self.heads[list];
        let entry = &mut self.entries[index as usize];
        entry.list = list as u32;
        entry.prev = NIL;
        entry.next = head;
        let deadline_ns = entry.deadline_ns;
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[list] = index;
        self.set_occupied(level, slot, true);
        if level == 0 {
            self.level0_min[slot] = self.level0_min[slot].min(deadline_ns);
        }
    }

    /// Inserts into the due list after every entry with a deadline `<=` its own. New timers
    /// on the due list are rare (a deadline within the current tick) and usually latest, so
    /// the walk starts at the tail.
    fn insert_due_sorted(&mut self, index: u32) {
        let deadline_ns = self.entries[index as usize].deadline_ns;
        let mut before = self.due_tail;
        while before != NIL && self.entries[before as usize].deadline_ns > deadline_ns {
            before = self.entries[before as usize].prev;
        }
        let after = if before == NIL { self.due_head } else { self.entries[before as usize].next };
        let entry = &mut self.entries[index as usize];
        entry.list = LIST_DUE;
        entry.prev = before;
        entry.next = after;
        if before == NIL {
            self.due_head = index;
        } else {
            self.entries[before as usize].next = index;
        }
        if after == NIL {
            self.due_tail = index;
        } else {
            self.entries[after as usize].prev = index;
        }
    }

    fn push_due_back(&mut self, index: u32) {
        let tail = self.due_tail;
        let entry = &mut self.entries[index as usize];
        entry.list = LIST_DUE;
        entry.prev = tail;
        entry.next = NIL;
        if tail == NIL {
            self.due_head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.due_tail = index;
    }

    /// Takes an entry off whichever list it is on.
    fn unlink(&mut self, index: u32) {
        let Entry { list, prev, next, .. } = self.entries[index as usize];
        if prev != NIL {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if list == LIST_DUE {
            if prev == NIL {
                self.due_head = next;
            }
            if next == NIL {
                self.due_tail = prev;
            }
        } else if prev == NIL {
            let list = list as usize;
            self.heads[list] = next;
            if next == NIL {
                let (level, slot) = (list / self.slots, list % self.slots);
                self.set_occupied(level, slot, false);
                if level == 0 {
                    self.level0_min[slot] = u64::MAX;
                }
            }
        }
    }

    /// Frees an unlinked entry and returns its value (invariant 4).
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.list = LIST_FREE;
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        entry.value.take().expect("a linked entry holds a value")
    }

    fn set_occupied(&mut self, level: usize, slot: usize, occupied: bool) {
        let word = &mut self.occupied[level * self.words_per_level + slot / 64];
        let bit = 1u64 << (slot % 64);
        if occupied {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    /// The next slot to come due: `(level, slot, first tick)`. By invariant 1 it is the
    /// first occupied slot after `elapsed`'s digit on the lowest level that has one.
    fn next_occupied_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..self.levels {
            let shift = level as u32 * self.bits;
            let digit = ((self.elapsed >> shift) as usize) & (self.slots - 1);
            if let Some(slot) = self.first_occupied_from(level, digit + 1) {
                let span_bits = shift + self.bits;
                let above = if span_bits >= 64 { 0 } else { self.elapsed >> span_bits << span_bits };
                return Some((level, slot, above | ((slot as u64) << shift)));
            }
        }
        None
    }

    fn first_occupied_from(&self, level: usize, from: usize) -> Option<usize> {
        if from >= self.slots {
            return None;
        }
        let words = &self.occupied[level * self.words_per_level..(level + 1) * self.words_per_level];
        let mut word_index = from / 64;
        let mut word = words[word_index] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(word_index * 64 + word.trailing_zeros() as usize);
            }
            word_index += 1;
            if word_index == words.len() {
                return None;
            }
            word = words[word_index];
        }
    }
}
