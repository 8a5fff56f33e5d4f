//! The timer wheel as it was before its cascades were spread out (issue 10): a slot of a
//! higher level is re-filed one level down all at once, at the moment its first tick comes.
//! Kept, unchanged but for this paragraph, as the "before" contender of the benchmarks
//! `timer_lateness` (how late timers fire while such a cascade runs) and `timers` (what
//! spreading the cascades costs in throughput). Not used by readyio itself.
//!
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
//! A timer is an *entry* in a slab (its value and a generation) plus a 16-byte *record*
//! (deadline, entry index, generation) kept in its slot or in the due queue. A slot holds
//! its records in a list of fixed-size *chunks* taken from a pool, so emptying a slot
//! reads its records sequentially (the memory system can fetch many at once) instead of
//! chasing one pointer per timer. The slab, the chunk pool, the due queue and
//! the cascade buffer are all sized in [`TimerWheel::new`] for `capacity` timers, so
//! nothing allocates afterwards. A bitmap per level says which slots are occupied, so the
//! next occupied slot is found with a few `trailing_zeros`, not by stepping through ticks.
//! Another bitmap, with summary levels, says which entries are in use: an insert takes the
//! lowest free entry (as the kernel does file descriptors), in O(levels) `trailing_zeros`.
//! That keeps the entries in use packed at the start of the slab, so a burst of inserts
//! fills consecutive entries and the memory system streams them in, instead of writing to
//! wherever the last timers happened to be freed.
//!
//! Insert appends a record to its slot's last chunk: O(1). Cancel is *lazy*: it frees the
//! entry, which changes its generation, and leaves the record where it is, *stale*. So
//! cancel touches one entry, and nothing has to know where a record is: moving records
//! (cascades) never touches the entries. Stale records are dropped when their slot comes
//! due (each record due now has its entry read; those are read all together, so their
//! cache misses overlap), when they reach the front of the due queue, or when the wheel
//! *compacts*: drops every stale record, O(records + slots), when an insert finds the
//! chunk pool used up or a cascade might (invariant 5). The pool is twice what the live
//! records can need, so a compaction frees at least as many chunks as live timers can
//! fill, and its cost is amortised over the inserts that filled them: insert is O(1)
//! amortised. The price of laziness: [`TimerWheel::next_deadline`] may name the slot of a
//! cancelled timer, so the owner may wake once for nothing (never later than it should).
//!
//! # Invariants
//!
//! 1. A record at level `k` has the same digits as `elapsed` above level `k` and a larger
//!    digit at level `k`. Hence a slot never holds records of two different rotations, the
//!    occupied slots of a level all lie ahead of `elapsed`, and the first occupied slot of
//!    the lowest occupied level is the next one to come due.
//! 2. The live records of the due queue are exactly those of pending timers whose tick is
//!    `<= elapsed`; the queue is ordered by deadline, and its front is live.
//! 3. `level0_min[s]` is at most the smallest deadline in level-0 slot `s` (stale records
//!    count, which only makes the owner wake early, never late), and `u64::MAX` when the
//!    slot is empty.
//! 4. An entry is pending (`value` is `Some`) or free. Every pending timer has exactly one
//!    record, with its entry's current generation; every other record is stale: its
//!    generation differs from its entry's, because every free changes the generation.
//!    When a generation wraps around to 0 the wheel compacts, so a stale record can never
//!    match a later occupant of its entry 2^32 generations on.
//! 5. The pool has `2 * (full + partial) + 2` chunks, where `full = ceil(capacity / CHUNK)`
//!    and `partial = min(capacity, slots in all levels)`: live records alone never need
//!    more than `full + partial`. A cascade of a level-`k` slot of `n` records needs at
//!    most `min(n, k * slots) + 1` chunks beyond those it frees as it reads, so it compacts
//!    first if fewer are free; after a compaction at least `full + partial + 2` are free.
//!
//! # Firing
//!
//! [`TimerWheel::poll`]`(now)` pops the front of the due queue if its deadline is `<= now`.
//! Otherwise, if `now` has moved into a later tick, it advances `elapsed`: it takes the
//! next occupied slot whose first tick is `<= now`'s tick, sets `elapsed` to that tick,
//! re-files the slot's records one level down (cascading) or, for those whose tick is now
//! `elapsed`, drops the stale ones, sorts the rest by deadline and appends them to the due
//! queue; and repeats. A timer therefore never fires before its deadline (only records
//! with `deadline <= now` leave), and timers fire in deadline order, including several in
//! the same tick. A record cascades at most once per level, so expiry costs O(levels)
//! amortised per timer.
//!
//! [`TimerWheel::next_deadline`] is `None` when no timer is pending, else the exact
//! deadline of the due queue's front, else the `level0_min` of the next occupied level-0
//! slot, else the start of the next occupied higher-level slot (where a cascade must
//! happen): the owner sleeps until then, so timers cost no syscall of their own.
//!
//! This file uses only `std`, so benchmarks and tests can include it by path.

use std::collections::VecDeque;

/// No chunk.
const NIL: u32 = u32::MAX;
/// Records per chunk (2 KiB): long runs that the memory system streams in and out well,
/// and few chunk allocations per record. In the timers benchmark 128 measured clearly
/// faster than 32 and 64, and about as fast as 256, which would double the memory
/// reserved (not touched) for partly filled chunks.
const CHUNK: usize = 128;

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
    const EMPTY: Record = Record { deadline_ns: 0, index: 0, generation: 0 };
}

/// One slab cell: a pending timer (`value` is `Some`) or a free cell.
#[derive(Debug)]
struct Entry<T> {
    value: Option<T>,
    generation: u32,
}

/// A block of a slot's records, cache-line aligned; `chunk_next` links it to the slot's
/// next chunk.
#[derive(Debug)]
#[repr(align(64))]
struct Chunk {
    records: [Record; CHUNK],
}

/// A slot's chunks: all full except `tail`, which holds `tail_len` records; `len` records
/// in all, live and stale.
#[derive(Clone, Copy, Debug)]
struct SlotList {
    head: u32,
    tail: u32,
    tail_len: u32,
    len: usize,
}

impl SlotList {
    const EMPTY: SlotList = SlotList { head: NIL, tail: NIL, tail_len: 0, len: 0 };
}

/// A hierarchical timing wheel holding up to `capacity` timers with values of type `T`.
#[derive(Debug)]
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    /// Which entries are in use; an insert takes the lowest free one.
    used: UsedBitmap,
    len: usize,
    chunks: Vec<Chunk>,
    /// The chunk after each chunk in its slot list or in the free list.
    chunk_next: Vec<u32>,
    /// How many chunks `chunks` may ever hold (see invariant 5).
    chunk_pool: usize,
    free_chunk: u32,
    free_chunk_count: usize,
    lists: Vec<SlotList>,
    /// Occupancy bitmap, `words_per_level` words per level.
    occupied: Vec<u64>,
    words_per_level: usize,
    /// See invariant 3.
    level0_min: Vec<u64>,
    due: VecDeque<Record>,
    /// The live records a cascade moves to the due queue, sorted there; preallocated.
    batch: Vec<Record>,
    /// `batch`'s sort keys, see `append_batch_sorted`; preallocated.
    batch_order: Vec<u64>,
    tick_ns: u64,
    bits: u32,
    /// `bit / bits` for every bit of a `u64`: a table, not a division per filing.
    level_of_bit: [u8; 64],
    /// `u64::MAX / tick_ns`: turns the division into a multiplication, see `tick_of`.
    tick_reciprocal: u64,
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
        // Invariant 5: live records fill at most `full + partial` chunks; as many again
        // are kept for stale records and for a cascade's records in flight.
        let full = capacity.div_ceil(CHUNK);
        let partial = capacity.min(lists);
        let chunk_pool = 2 * (full + partial) + 2;
        TimerWheel {
            entries: Vec::with_capacity(capacity),
            used: UsedBitmap::new(capacity),
            len: 0,
            chunks: Vec::with_capacity(chunk_pool),
            chunk_next: Vec::with_capacity(chunk_pool),
            chunk_pool,
            free_chunk: NIL,
            free_chunk_count: 0,
            lists: vec![SlotList::EMPTY; lists],
            occupied: vec![0; levels * words_per_level],
            words_per_level,
            level0_min: vec![u64::MAX; slots],
            due: VecDeque::with_capacity(capacity.max(1)),
            batch: Vec::with_capacity(capacity),
            batch_order: Vec::with_capacity(capacity),
            tick_ns: tick_ns.max(1),
            bits,
            level_of_bit: std::array::from_fn(|bit| (bit as u32 / bits) as u8),
            tick_reciprocal: u64::MAX / tick_ns.max(1),
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
    /// [`poll`](Self::poll)). O(1): O(levels) of the entry bitmap, and amortised when it
    /// must compact (see the module docs).
    /// Gives `value` back if the wheel is full.
    pub fn insert(&mut self, deadline_ns: u64, value: T) -> Result<TimerKey, T> {
        let Some(index) = self.used.lowest_free() else {
            return Err(value);
        };
        self.used.set(index, true);
        // Entries are used lowest first, so the lowest free one is at most one past the end.
        let generation = if index == self.entries.len() {
            self.entries.push(Entry { value: Some(value), generation: 0 });
            0
        } else {
            let entry = &mut self.entries[index];
            entry.value = Some(value);
            entry.generation
        };
        let index = index as u32;
        self.len += 1;
        self.file(Record { deadline_ns, index, generation });
        Ok(TimerKey { index, generation })
    }

    /// Removes a pending timer and returns its value; `None` (touching nothing) if `key`'s
    /// timer already fired or was cancelled. O(1): only the entry is touched; the timer's
    /// record becomes stale where it lies (invariant 4).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation || entry.value.is_none() {
            return None;
        }
        let value = self.release(key.index);
        if self.due.front().is_some_and(|r| r.index == key.index && r.generation == key.generation) {
            self.drop_stale_front();
        }
        Some(value)
    }

    /// The deadline the owner should wake up at next (see the module docs), or `None`
    /// if no timer is pending. Never later than the earliest pending deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
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
            if self.is_live(front) {
                return;
            }
            self.due.pop_front();
        }
    }

    /// Whether `record` belongs to a pending timer (invariant 4).
    fn is_live(&self, record: &Record) -> bool {
        self.entries[record.index as usize].generation == record.generation
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

    /// Empties a slot that came due: its live records of tick `elapsed` go to the due
    /// queue in deadline order, its stale ones of that tick are dropped, and the others go
    /// down to a lower level, stale or not (telling would cost a read of their entries).
    fn cascade(&mut self, level: usize, slot: usize) {
        let list_index = level * self.slots + slot;
        if level > 0 {
            // Invariant 5: moving the slot's records down needs at most this many chunks
            // beyond those it frees as it reads them.
            let lists_below = level * self.slots;
            let needed = |list: &SlotList| list.len.min(lists_below) + 1;
            if self.available_chunks() < needed(&self.lists[list_index]) {
                self.compact();
                debug_assert!(self.available_chunks() >= needed(&self.lists[list_index]));
            }
            if self.lists[list_index].head == NIL {
                return;
            }
        }
        let list = std::mem::replace(&mut self.lists[list_index], SlotList::EMPTY);
        self.set_occupied(level, slot, false);
        if level == 0 {
            self.level0_min[slot] = u64::MAX;
        }
        let mut chunk = list.head;
        while chunk != NIL {
            let next = self.chunk_next[chunk as usize];
            let count = if chunk == list.tail { list.tail_len as usize } else { CHUNK };
            if level == 0 {
                // A level-0 slot is one tick, all due now (invariant 1).
                self.batch_live_records(chunk, count);
            } else {
                for pos in 0..count {
                    let record = self.chunks[chunk as usize].records[pos];
                    let tick = self.tick_of(record.deadline_ns);
                    if tick > self.elapsed {
                        self.file_in_slot(record, tick);
                    } else if self.is_live(&record) {
                        // At most `capacity` records are live: `batch` never grows.
                        self.batch.push(record);
                    }
                }
            }
            self.free_chunk(chunk);
            chunk = next;
        }
        // Every live record in the due queue has a tick before `elapsed`, so the sorted
        // batch goes after them (invariant 2).
        if self.due.is_empty() {
            // Start the ring over at its first, cache-warm records (a ring that kept
            // moving on would walk through all its memory, missing the cache all the way).
            self.due.clear();
        } else if self.due.len() + self.batch.len() > self.due.capacity() {
            self.compact_due();
        }
        self.append_batch_sorted();
    }

    /// Appends `batch` to the due queue in deadline order. The batch's records are all of
    /// tick `elapsed`, so when a tick is at most 2^32 ns, a deadline's offset into the
    /// tick and the record's place in the batch pack into one `u64`; sorting those plain
    /// integers is several times faster than sorting the records by a key.
    fn append_batch_sorted(&mut self) {
        if self.tick_ns > 1 << 32 {
            self.batch.sort_unstable_by_key(|r| r.deadline_ns);
            self.due.extend(self.batch.drain(..));
            return;
        }
        let tick_start_ns = self.elapsed * self.tick_ns;
        self.batch_order.clear();
        self.batch_order
            .extend(self.batch.iter().enumerate().map(|(i, r)| ((r.deadline_ns - tick_start_ns) << 32) | i as u64));
        self.batch_order.sort_unstable();
        for &key in &self.batch_order {
            self.due.push_back(self.batch[key as u32 as usize]);
        }
        self.batch.clear();
    }

    /// Appends the live ones of the first `count` records of `chunk` to `batch`. All the
    /// entries are read first, with nothing depending on each read but a flag, so their
    /// cache misses overlap instead of queueing behind one another.
    fn batch_live_records(&mut self, chunk: u32, count: usize) {
        let records = &self.chunks[chunk as usize].records[..count];
        let mut live = [false; CHUNK];
        for (live, record) in live.iter_mut().zip(records) {
            *live = self.entries[record.index as usize].generation == record.generation;
        }
        for (&live, record) in live.iter().zip(records) {
            if live {
                // At most `capacity` records are live: `batch` never grows.
                self.batch.push(*record);
            }
        }
    }

    /// `deadline_ns / tick_ns`, by a multiplication. With `r = tick_reciprocal =
    /// floor((2^64 - 1) / tick_ns) >= 2^64 / tick_ns - 1`, the high half of
    /// `deadline_ns * r` lies in `(deadline_ns / tick_ns - 1, deadline_ns / tick_ns]`: the
    /// quotient or one less, which the remainder tells (without a branch, which would be
    /// mispredicted half the time).
    fn tick_of(&self, deadline_ns: u64) -> u64 {
        let estimate = ((u128::from(deadline_ns) * u128::from(self.tick_reciprocal)) >> 64) as u64;
        let remainder = deadline_ns - estimate * self.tick_ns;
        estimate + u64::from(remainder >= self.tick_ns)
    }

    /// Files a new record in the due queue or in its slot.
    fn file(&mut self, record: Record) {
        let tick = self.tick_of(record.deadline_ns);
        if tick <= self.elapsed {
            self.insert_due_sorted(record);
        } else {
            self.file_in_slot(record, tick);
        }
    }

    /// Files `record` in the slot of `tick`: inlined for the common case, a slot whose last
    /// chunk has room.
    #[inline(always)]
    fn file_in_slot(&mut self, record: Record, tick: u64) {
        let highest_differing_bit = 63 - (tick ^ self.elapsed).leading_zeros();
        let level = self.level_of_bit[highest_differing_bit as usize] as usize;
        let slot = ((tick >> (level as u32 * self.bits)) as usize) & (self.slots - 1);
        let list_index = level * self.slots + slot;
        let list = &mut self.lists[list_index];
        if list.tail == NIL || list.tail_len as usize == CHUNK {
            return self.file_in_new_chunk(record, level, slot);
        }
        self.chunks[list.tail as usize].records[list.tail_len as usize] = record;
        list.tail_len += 1;
        list.len += 1;
        if level == 0 {
            self.level0_min[slot] = self.level0_min[slot].min(record.deadline_ns);
        }
    }

    /// Files `record` in slot `slot` of level `level`, whose last chunk is full or absent.
    #[inline(never)]
    fn file_in_new_chunk(&mut self, record: Record, level: usize, slot: usize) {
        let list_index = level * self.slots + slot;
        let mut list = self.lists[list_index];
        let needs_chunk = |list: &SlotList| list.tail == NIL || list.tail_len as usize == CHUNK;
        if needs_chunk(&list) && self.available_chunks() == 0 {
            // Only an insert gets here (a cascade makes room first); compacting may have
            // shortened this very list.
            self.compact();
            list = self.lists[list_index];
        }
        if needs_chunk(&list) {
            let chunk = self.alloc_chunk();
            if list.tail == NIL {
                list.head = chunk;
                self.set_occupied(level, slot, true);
            } else {
                self.chunk_next[list.tail as usize] = chunk;
            }
            list.tail = chunk;
            list.tail_len = 0;
        }
        self.chunks[list.tail as usize].records[list.tail_len as usize] = record;
        list.tail_len += 1;
        list.len += 1;
        self.lists[list_index] = list;
        if level == 0 {
            self.level0_min[slot] = self.level0_min[slot].min(record.deadline_ns);
        }
    }

    /// Inserts into the due queue after every record with a deadline `<=` its own. New
    /// timers land here only when their deadline is within the current tick (or past).
    fn insert_due_sorted(&mut self, record: Record) {
        if self.due.len() == self.due.capacity() {
            self.compact_due();
        }
        let at = self.due.partition_point(|r| r.deadline_ns <= record.deadline_ns);
        self.due.insert(at, record);
    }

    /// Drops the stale records of the due queue, so pushes cannot reallocate it. The
    /// queue has room for `capacity` records and holds only live ones afterwards.
    fn compact_due(&mut self) {
        let entries = &self.entries;
        self.due.retain(|r| entries[r.index as usize].generation == r.generation);
    }

    /// Drops every stale record, in the slots and in the due queue (invariant 5).
    /// O(records + slots).
    fn compact(&mut self) {
        for list_index in 0..self.lists.len() {
            if self.lists[list_index].head != NIL {
                self.compact_list(list_index);
            }
        }
        self.compact_due();
    }

    /// Slides a slot's live records to the front of its chunks and frees the chunks left
    /// empty.
    fn compact_list(&mut self, list_index: usize) {
        let list = self.lists[list_index];
        let (mut write_chunk, mut write_pos) = (list.head, 0usize);
        let mut kept = 0usize;
        let mut min_deadline = u64::MAX;
        let mut read_chunk = list.head;
        while read_chunk != NIL {
            let count = if read_chunk == list.tail { list.tail_len as usize } else { CHUNK };
            for pos in 0..count {
                let record = self.chunks[read_chunk as usize].records[pos];
                if !self.is_live(&record) {
                    continue;
                }
                if write_pos == CHUNK {
                    write_chunk = self.chunk_next[write_chunk as usize];
                    write_pos = 0;
                }
                self.chunks[write_chunk as usize].records[write_pos] = record;
                write_pos += 1;
                kept += 1;
                min_deadline = min_deadline.min(record.deadline_ns);
            }
            read_chunk = self.chunk_next[read_chunk as usize];
        }
        let mut spare = self.chunk_next[write_chunk as usize];
        while spare != NIL {
            let next = self.chunk_next[spare as usize];
            self.free_chunk(spare);
            spare = next;
        }
        let (level, slot) = (list_index / self.slots, list_index % self.slots);
        if kept == 0 {
            self.free_chunk(write_chunk);
            self.lists[list_index] = SlotList::EMPTY;
            self.set_occupied(level, slot, false);
        } else {
            self.chunk_next[write_chunk as usize] = NIL;
            self.lists[list_index] =
                SlotList { head: list.head, tail: write_chunk, tail_len: write_pos as u32, len: kept };
        }
        if level == 0 {
            self.level0_min[slot] = min_deadline;
        }
    }

    /// Frees a pending entry and returns its value (invariant 4).
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        let wrapped = entry.generation == 0;
        let value = entry.value.take().expect("a pending entry holds a value");
        self.used.set(index as usize, false);
        self.len -= 1;
        if wrapped {
            // A stale record of this entry from 2^32 generations ago would match its next
            // occupant: drop every stale record (invariant 4). Once per 2^32 frees.
            self.compact();
        }
        value
    }

    fn available_chunks(&self) -> usize {
        self.free_chunk_count + (self.chunk_pool - self.chunks.len())
    }

    fn alloc_chunk(&mut self) -> u32 {
        if self.free_chunk != NIL {
            let chunk = self.free_chunk;
            self.free_chunk = self.chunk_next[chunk as usize];
            self.free_chunk_count -= 1;
            self.chunk_next[chunk as usize] = NIL;
            chunk
        } else {
            assert!(self.chunks.len() < self.chunk_pool, "chunk pool sized in new() (invariant 5)");
            self.chunks.push(Chunk { records: [Record::EMPTY; CHUNK] });
            self.chunk_next.push(NIL);
            (self.chunks.len() - 1) as u32
        }
    }

    fn free_chunk(&mut self, chunk: u32) {
        self.chunk_next[chunk as usize] = self.free_chunk;
        self.free_chunk = chunk;
        self.free_chunk_count += 1;
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

/// A set of indices below a capacity, as a bitmap with summary levels: bit `j` of level
/// `k + 1` says word `j` of level `k` is full. The lowest index not in the set is found by
/// descending from the single top word, and adding or removing an index updates a word
/// per level at most: O(levels), at most 6 for `u32` indices.
#[derive(Debug)]
struct UsedBitmap {
    /// `levels[0]` has a bit per index; the last level is one word.
    levels: Vec<Vec<u64>>,
    capacity: usize,
}

impl UsedBitmap {
    fn new(capacity: usize) -> UsedBitmap {
        let mut levels = Vec::new();
        let mut bits = capacity.max(1);
        loop {
            let words = bits.div_ceil(64);
            levels.push(vec![0u64; words]);
            if words == 1 {
                break;
            }
            bits = words;
        }
        UsedBitmap { levels, capacity }
    }

    /// The lowest index below the capacity that is not in the set. (Bits past the
    /// capacity stay clear, so a word holding them never counts as full.)
    fn lowest_free(&self) -> Option<usize> {
        let mut index = 0;
        for words in self.levels.iter().rev() {
            // A summary word can point past the words below it (they have no full bit).
            let free = !*words.get(index)?;
            if free == 0 {
                return None;
            }
            index = index * 64 + free.trailing_zeros() as usize;
        }
        (index < self.capacity).then_some(index)
    }

    fn set(&mut self, mut index: usize, used: bool) {
        for words in &mut self.levels {
            let word = &mut words[index / 64];
            let was_full = *word == u64::MAX;
            let bit = 1u64 << (index % 64);
            if used {
                *word |= bit;
            } else {
                *word &= !bit;
            }
            // The summary bit changes only when the word turns full or stops being so.
            if was_full == (*word == u64::MAX) {
                return;
            }
            index /= 64;
        }
    }
}
