//! `TimerWheel`: the event loop's timers, a hierarchical timing wheel over fixed pools.
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
//! A timer whose deadline falls in tick `t > elapsed` is filed at the level of the highest
//! bit in which `t` and `elapsed` differ, in the slot named by `t`'s digit at that level
//! (the scheme of Varghese & Lauck's hierarchical wheels, as in tokio's). A timer whose
//! tick is `<= elapsed` is on the *due queue* instead, sorted by exact deadline.
//!
//! # Storage
//!
//! A timer is an *entry* in a slab (its value, a generation, and where its record is; free
//! entries are found on a stack of indices) plus
//! a 16-byte *record* (deadline, entry index, generation) kept in its slot or in the due
//! queue. A slot holds its records in a list of fixed-size *chunks* taken from a pool, so
//! emptying a slot reads its records sequentially (the memory system can fetch many at
//! once) instead of chasing one pointer per timer. The slab, the chunk pool, the due queue
//! and the cascade buffer are all sized in [`TimerWheel::new`] for `capacity` timers (the
//! pool needs at most one partly filled chunk per non-empty slot beyond the full ones), so
//! nothing allocates afterwards. A bitmap per level says which slots are occupied, so the
//! next occupied slot is found with a few `trailing_zeros`, not by stepping through ticks.
//!
//! Insert appends a record to its slot's last chunk: O(1). Cancel moves the slot's last
//! record into the cancelled record's place and updates the moved entry: O(1). A record in
//! the due queue is not moved on cancel; its entry's generation changes, which makes the
//! record *stale*, and stale records are skipped (and dropped) when they reach the front
//! or when the queue is compacted because it is full.
//!
//! # Invariants
//!
//! 1. A record at level `k` has the same digits as `elapsed` above level `k` and a larger
//!    digit at level `k`. Hence a slot never holds records of two different rotations, the
//!    occupied slots of a level all lie ahead of `elapsed`, and the first occupied slot of
//!    the lowest occupied level is the next one to come due.
//! 2. The live records of the due queue are exactly those of pending timers whose tick is
//!    `<= elapsed`; the queue is ordered by deadline, and its front is live.
//! 3. `level0_min[s]` is at most the smallest deadline in level-0 slot `s` (smaller after a
//!    cancel, which only makes the owner wake a little early, never late), and `u64::MAX`
//!    when the slot is empty.
//! 4. An entry is free or pending. A pending entry's record is in the due queue
//!    (`list == LIST_DUE`) or at `(chunk, pos)` of slot list `list`. Every free makes the
//!    entry's `generation` change, so a stale [`TimerKey`] or record never matches the
//!    entry's next occupant.
//!
//! # Firing
//!
//! [`TimerWheel::poll`]`(now)` pops the front of the due queue if its deadline is `<= now`.
//! Otherwise, if `now` has moved into a later tick, it advances `elapsed`: it takes the
//! next occupied slot whose first tick is `<= now`'s tick, sets `elapsed` to that tick,
//! re-files the slot's records one level down (cascading) or, for those whose tick is now
//! `elapsed`, sorts them by deadline and appends them to the due queue; and repeats. A
//! timer therefore never fires before its deadline (only records with `deadline <= now`
//! leave), and timers fire in deadline order, including several in the same tick. A record
//! cascades at most once per level, so expiry costs O(levels) amortised per timer.
//!
//! [`TimerWheel::next_deadline`] is the exact deadline of the due queue's front, else the
//! `level0_min` of the next occupied level-0 slot, else the start of the next occupied
//! higher-level slot (where a cascade must happen): the owner sleeps until then, so timers
//! cost no syscall of their own.
//!
//! This file uses only `std`, so benchmarks and tests can include it by path.

use std::collections::VecDeque;

/// No chunk / no entry.
const NIL: u32 = u32::MAX;
/// `Entry::list` of a free entry.
const LIST_FREE: u32 = u32::MAX;
/// `Entry::list` of an entry whose record is in the due queue.
const LIST_DUE: u32 = u32::MAX - 1;
/// Records per chunk.
const CHUNK: usize = 32;

/// Names one timer in a [`TimerWheel`]: its slab index and the generation the entry had
/// when the timer was inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

/// What the wheel's slots and due queue hold for each timer.
#[derive(Clone, Copy, Debug)]
struct Record {
    deadline_ns: u64,
    index: u32,
    generation: u32,
}

impl Record {
    const EMPTY: Record = Record { deadline_ns: 0, index: NIL, generation: 0 };
}

/// One slab cell: a pending timer or a free cell.
#[derive(Debug)]
struct Entry<T> {
    value: Option<T>,
    generation: u32,
    /// `LIST_FREE`, `LIST_DUE`, or the slot list (`level * slots + slot`) of the record.
    list: u32,
    /// The chunk holding the record.
    chunk: u32,
    /// The record's position in its chunk.
    pos: u32,
}

/// A block of a slot's records, linked to the slot's other chunks.
#[derive(Debug)]
struct Chunk {
    records: [Record; CHUNK],
    prev: u32,
    next: u32,
}

/// A slot's chunks: all full except `tail`, which holds `tail_len` records.
#[derive(Clone, Copy, Debug)]
struct SlotList {
    head: u32,
    tail: u32,
    tail_len: u32,
}

impl SlotList {
    const EMPTY: SlotList = SlotList { head: NIL, tail: NIL, tail_len: 0 };
}

/// A hierarchical timing wheel holding up to `capacity` timers with values of type `T`.
#[derive(Debug)]
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    /// Indices of free entries: a stack, so taking one never reads the entry itself (a
    /// free list threaded through the entries would chase a cache miss per insert).
    free_entries: Vec<u32>,
    len: usize,
    chunks: Vec<Chunk>,
    free_chunk: u32,
    lists: Vec<SlotList>,
    /// Occupancy bitmap, `words_per_level` words per level.
    occupied: Vec<u64>,
    words_per_level: usize,
    /// See invariant 3.
    level0_min: Vec<u64>,
    due: VecDeque<Record>,
    /// The records a cascade moves to the due queue, sorted there; preallocated.
    batch: Vec<Record>,
    tick_ns: u64,
    bits: u32,
    slots: usize,
    levels: usize,
    elapsed: u64,
}

impl<T> TimerWheel<T> {
    /// The most timers a wheel can hold (slab indices are `u32`, two values reserved).
    pub const MAX_CAPACITY: usize = (u32::MAX - 2) as usize;

    /// A wheel for up to `capacity` timers with ticks of `tick_ns` nanoseconds and
    /// `slots_per_level` slots per level (rounded up to a power of two, 2 ..= 65536).
    /// Everything the wheel will ever use is allocated here (reserved, and touched only as
    /// it is used).
    ///
    /// `tick_ns` is raised to 1 and `capacity` capped at [`Self::MAX_CAPACITY`].
    pub fn new(capacity: usize, tick_ns: u64, slots_per_level: usize) -> TimerWheel<T> {
        let capacity = capacity.min(Self::MAX_CAPACITY);
        let slots = slots_per_level.clamp(2, 1 << 16).next_power_of_two();
        let bits = slots.trailing_zeros();
        let levels = 64usize.div_ceil(bits as usize);
        let words_per_level = slots.div_ceil(64);
        let lists = levels * slots;
        // Full chunks, plus one partly filled per non-empty slot, plus the one a cascade
        // frees only after reading it.
        let chunk_pool = capacity.div_ceil(CHUNK) + capacity.min(lists) + 1;
        TimerWheel {
            entries: Vec::with_capacity(capacity),
            free_entries: Vec::with_capacity(capacity),
            len: 0,
            chunks: Vec::with_capacity(chunk_pool),
            free_chunk: NIL,
            lists: vec![SlotList::EMPTY; lists],
            occupied: vec![0; levels * words_per_level],
            words_per_level,
            level0_min: vec![u64::MAX; slots],
            due: VecDeque::with_capacity(capacity.max(1)),
            batch: Vec::with_capacity(capacity),
            tick_ns: tick_ns.max(1),
            bits,
            slots,
            levels,
            elapsed: 0,
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
        let index = if let Some(index) = self.free_entries.pop() {
            self.entries[index as usize].value = Some(value);
            index
        } else if self.entries.len() < self.entries.capacity() {
            self.entries.push(Entry { value: Some(value), generation: 0, list: LIST_FREE, chunk: NIL, pos: 0 });
            (self.entries.len() - 1) as u32
        } else {
            return Err(value);
        };
        self.len += 1;
        let generation = self.entries[index as usize].generation;
        self.file(Record { deadline_ns, index, generation });
        Ok(TimerKey { index, generation })
    }

    /// Removes a pending timer and returns its value; `None` (touching nothing) if `key`'s
    /// timer already fired or was cancelled. O(1).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation || entry.list == LIST_FREE {
            return None;
        }
        let (list, chunk, pos) = (entry.list, entry.chunk, entry.pos);
        let value = self.release(key.index);
        if list == LIST_DUE {
            // The record stays in the queue, stale (invariant 4); keep the front live.
            self.drop_stale_front();
        } else {
            self.remove_from_slot(list as usize, chunk, pos);
        }
        Some(value)
    }

    /// The deadline the owner should wake up at next (see the module docs), or `None`
    /// if no timer is pending. Never later than the earliest pending deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        if let Some(front) = self.due.front() {
            return Some(front.deadline_ns);
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
        let front = *self.due.front()?;
        if front.deadline_ns > now_ns {
            return None;
        }
        self.due.pop_front();
        let value = self.release(front.index);
        self.drop_stale_front();
        Some(value)
    }

    /// Restores "the front of the due queue is live" (invariant 2).
    fn drop_stale_front(&mut self) {
        while let Some(front) = self.due.front() {
            if self.is_live_due(front) {
                return;
            }
            self.due.pop_front();
        }
    }

    fn is_live_due(&self, record: &Record) -> bool {
        let entry = &self.entries[record.index as usize];
        entry.generation == record.generation && entry.list == LIST_DUE
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

    /// Empties a slot that came due: its records of tick `elapsed` go to the due queue in
    /// deadline order, the others down to a lower level.
    fn cascade(&mut self, level: usize, slot: usize) {
        let list_index = level * self.slots + slot;
        let list = std::mem::replace(&mut self.lists[list_index], SlotList::EMPTY);
        self.set_occupied(level, slot, false);
        if level == 0 {
            self.level0_min[slot] = u64::MAX;
        }
        let mut chunk = list.head;
        while chunk != NIL {
            let next = self.chunks[chunk as usize].next;
            let count = if chunk == list.tail { list.tail_len as usize } else { CHUNK };
            for pos in 0..count {
                let record = self.chunks[chunk as usize].records[pos];
                let tick = record.deadline_ns / self.tick_ns;
                if tick <= self.elapsed {
                    self.batch.push(record);
                } else {
                    self.file_in_slot(record, tick);
                }
            }
            self.free_chunk(chunk);
            chunk = next;
        }
        // Every live record in the due queue has a tick before `elapsed`, so the sorted
        // batch goes after them (invariant 2).
        self.batch.sort_unstable_by_key(|r| r.deadline_ns);
        for i in 0..self.batch.len() {
            let record = self.batch[i];
            self.entries[record.index as usize].list = LIST_DUE;
            self.make_room_in_due();
            self.due.push_back(record);
        }
        self.batch.clear();
    }

    /// Files a new record in the due queue or in its slot.
    fn file(&mut self, record: Record) {
        let tick = record.deadline_ns / self.tick_ns;
        if tick <= self.elapsed {
            self.insert_due_sorted(record);
        } else {
            self.file_in_slot(record, tick);
        }
    }

    fn file_in_slot(&mut self, record: Record, tick: u64) {
        let highest_differing_bit = 63 - (tick ^ self.elapsed).leading_zeros();
        let level = (highest_differing_bit / self.bits) as usize;
        let slot = ((tick >> (level as u32 * self.bits)) as usize) & (self.slots - 1);
        let list_index = level * self.slots + slot;
        let mut list = self.lists[list_index];
        if list.tail == NIL || list.tail_len as usize == CHUNK {
            let chunk = self.alloc_chunk(list.tail);
            if list.tail == NIL {
                list.head = chunk;
                self.set_occupied(level, slot, true);
            } else {
                self.chunks[list.tail as usize].next = chunk;
            }
            list.tail = chunk;
            list.tail_len = 0;
        }
        let pos = list.tail_len;
        self.chunks[list.tail as usize].records[pos as usize] = record;
        list.tail_len += 1;
        self.lists[list_index] = list;
        let entry = &mut self.entries[record.index as usize];
        entry.list = list_index as u32;
        entry.chunk = list.tail;
        entry.pos = pos;
        if level == 0 {
            self.level0_min[slot] = self.level0_min[slot].min(record.deadline_ns);
        }
    }

    /// Takes the record at `(chunk, pos)` out of slot list `list_index` by moving the
    /// list's last record into its place.
    fn remove_from_slot(&mut self, list_index: usize, chunk: u32, pos: u32) {
        let mut list = self.lists[list_index];
        let last_pos = list.tail_len - 1;
        if (chunk, pos) != (list.tail, last_pos) {
            let moved = self.chunks[list.tail as usize].records[last_pos as usize];
            self.chunks[chunk as usize].records[pos as usize] = moved;
            let entry = &mut self.entries[moved.index as usize];
            entry.chunk = chunk;
            entry.pos = pos;
        }
        list.tail_len -= 1;
        if list.tail_len == 0 {
            let emptied = list.tail;
            list.tail = self.chunks[emptied as usize].prev;
            self.free_chunk(emptied);
            if list.tail == NIL {
                list.head = NIL;
                let (level, slot) = (list_index / self.slots, list_index % self.slots);
                self.set_occupied(level, slot, false);
                if level == 0 {
                    self.level0_min[slot] = u64::MAX;
                }
            } else {
                self.chunks[list.tail as usize].next = NIL;
                list.tail_len = CHUNK as u32;
            }
        }
        self.lists[list_index] = list;
    }

    /// Inserts into the due queue after every record with a deadline `<=` its own. New
    /// timers land here only when their deadline is within the current tick (or past).
    fn insert_due_sorted(&mut self, record: Record) {
        self.entries[record.index as usize].list = LIST_DUE;
        self.make_room_in_due();
        let at = self.due.partition_point(|r| r.deadline_ns <= record.deadline_ns);
        self.due.insert(at, record);
    }

    /// Drops the stale records if the due queue is full, so a push cannot reallocate. The
    /// queue has room for `capacity` records and at most `capacity - 1` other timers are
    /// live when one is added, so this always makes room.
    fn make_room_in_due(&mut self) {
        if self.due.len() == self.due.capacity() {
            let entries = &self.entries;
            self.due.retain(|r| {
                let entry = &entries[r.index as usize];
                entry.generation == r.generation && entry.list == LIST_DUE
            });
        }
    }

    /// Frees a pending entry and returns its value (invariant 4).
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.list = LIST_FREE;
        self.free_entries.push(index);
        self.len -= 1;
        entry.value.take().expect("a pending entry holds a value")
    }

    fn alloc_chunk(&mut self, prev: u32) -> u32 {
        if self.free_chunk != NIL {
            let chunk = self.free_chunk;
            self.free_chunk = self.chunks[chunk as usize].next;
            self.chunks[chunk as usize].prev = prev;
            self.chunks[chunk as usize].next = NIL;
            chunk
        } else {
            debug_assert!(self.chunks.len() < self.chunks.capacity(), "chunk pool sized in new()");
            self.chunks.push(Chunk { records: [Record::EMPTY; CHUNK], prev, next: NIL });
            (self.chunks.len() - 1) as u32
        }
    }

    fn free_chunk(&mut self, chunk: u32) {
        self.chunks[chunk as usize].next = self.free_chunk;
        self.free_chunk = chunk;
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
