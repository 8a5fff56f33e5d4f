//! `TimerWheel`: the event loop's timers, a hierarchical timing wheel over fixed pools, whose
//! cascades are spread over time so that no advance does more than a bounded amount of work.
//!
//! # Layout
//!
//! Time is counted in nanoseconds from an origin the owner picks, and cut into *ticks* of
//! `tick_ns` (1 ms in the event loop's default configuration). The wheel has `levels`
//! levels of `slots` slots each (`slots` a power of two, 2^`bits`). A slot at level `k`
//! spans 2^(`k`·`bits`) ticks, `span(k)`; `slots` of them make a *rotation* of level `k`,
//! which is what one slot of level `k + 1` spans; enough levels are kept to cover every
//! `u64` tick. A tick `t`'s *digit* at level `k` names its slot there, its *rotation* at
//! level `k` is `t / (slots · span(k))`. Each level has two *banks* of slots, one per parity
//! of the rotation: the rotation `elapsed` is in, and the next. `elapsed` is the tick up to
//! which the wheel has been advanced.
//!
//! A timer whose deadline falls in tick `t > elapsed` is filed at its *home level*: the
//! lowest level `k` where `t` is in `elapsed`'s rotation or the next, in the bank of `t`'s
//! rotation and the slot of `t`'s digit there (Varghese & Lauck's hierarchical wheels, as in
//! tokio's, with a second bank per level). A timer whose tick is `<= elapsed` is on the
//! *due queue* instead, sorted by exact deadline.
//!
//! # Cascades, spread out
//!
//! A slot of level `k >= 1` holds timers of one rotation of level `k - 1`, and must be
//! re-filed one level down (*moved*) before that rotation's slots are needed. The classic
//! wheel moves a whole slot at the moment its first tick comes: with a million timers that
//! is tens of milliseconds in one poll, and every timer due then is that late. Here the
//! second bank lets a slot move during the whole rotation of level `k - 1` before its own:
//! once `elapsed` enters that rotation, the bank the slot moves into is free (it held the
//! rotation just finished). Each advance then moves an even share of what is left of the
//! slot, `ceil(chunks left / advances left until the move's deadline)` chunks; an owner that
//! advances every tick moves about `records / slots` records per tick. A slot whose first
//! tick is `F` may start moving at tick `F - span(k)` and must be empty by tick
//! `F - span(k - 1)`, when the first of its own level `k - 1` slots may start moving (for
//! `k = 1`: one tick before `F`). So that an owner which sleeps until
//! [`TimerWheel::next_deadline`] still moves no more than `PACE_CHUNKS` chunks per level
//! per advance, `next_deadline` wakes it early enough for that; an advance that reaches a
//! deadline anyway (the owner was late) finishes that move at once.
//!
//! The price: a whole-slot move writes its records into slots whose last chunks stay in
//! the cache for the whole move, a spread one finds them cold at every step, and timers
//! within two rotations are filed straight into the many level-0 slots instead of the few
//! of level 1. In the timers benchmark (1M timers over 10 s) that is about a fifth more
//! time per timer than whole-slot cascades, still under a fifth of a binary heap's.
//!
//! # Storage
//!
//! A timer is an *entry* in a slab (its value and a generation) plus a 16-byte *record*
//! (deadline, entry index, generation) kept in its slot or in the due queue. A slot holds
//! its records in a list of fixed-size *chunks* taken from a pool, so emptying a slot
//! reads its records sequentially (the memory system can fetch many at once) instead of
//! chasing one pointer per timer, and a move can take a slot apart one chunk at a time.
//! The slab, the chunk pool, the due queue and the batch buffers are all sized in
//! [`TimerWheel::new`] for `capacity` timers, so nothing allocates afterwards. A bitmap
//! over the slots says which are occupied, so the next occupied slot is found with a few
//! `trailing_zeros`, not by stepping through ticks. Another bitmap, with summary levels,
//! says which entries are in use: an insert takes the lowest free entry (as the kernel
//! does file descriptors), in O(levels) `trailing_zeros`. That keeps the entries in use
//! packed at the start of the slab, so a burst of inserts fills consecutive entries and
//! the memory system streams them in, instead of writing to wherever the last timers
//! happened to be freed.
//!
//! Insert appends a record to its slot's last chunk: O(1). Cancel is *lazy*: it frees the
//! entry, which changes its generation, and leaves the record where it is, *stale*. So
//! cancel touches one entry, and nothing has to know where a record is: moving records
//! never touches the entries. Stale records are dropped when their level-0 slot comes
//! due (each record due now has its entry read; those are read all together, so their
//! cache misses overlap), when they reach the front of the due queue, or when the wheel
//! *compacts*: drops every stale record, O(records + slots), when an insert finds the
//! chunk pool used up or a move might (invariant 5). The pool is twice what the live
//! records can need, so a compaction frees at least as many chunks as live timers can
//! fill, and its cost is amortised over the inserts that filled them: insert is O(1)
//! amortised. The price of laziness: [`TimerWheel::next_deadline`] may name the slot of a
//! cancelled timer, so the owner may wake once for nothing (never later than it should).
//!
//! # Invariants
//!
//! 1. A record of tick `t > elapsed` lies in the bank of `t`'s rotation and the slot of
//!    `t`'s digit, at its home level `h`, or at `h + 1` if that slot is the one moving to
//!    `h` (invariant 6). Hence a slot never holds records of two rotations; a level's
//!    occupied slots lie after `elapsed`'s digit in `elapsed`'s bank, or in the other bank;
//!    and the first of them in that order holds the level's earliest ticks.
//! 2. The live records of the due queue are exactly those of pending timers whose tick is
//!    `<= elapsed`; the queue is ordered by deadline, and its front is live.
//! 3. `level0_min[s]` is at most the smallest deadline in level-0 slot `s` (of either
//!    bank; stale records count, which only makes the owner wake early, never late), and
//!    `u64::MAX` when the slot is empty.
//! 4. An entry is pending (`value` is `Some`) or free. Every pending timer has exactly one
//!    record, with its entry's current generation; every other record is stale: its
//!    generation differs from its entry's, because every free changes the generation.
//!    When a generation wraps around to 0 the wheel compacts, so a stale record can never
//!    match a later occupant of its entry 2^32 generations on.
//! 5. The pool has `2 * (full + partial) + 2` chunks, where `full = ceil(capacity / CHUNK)`
//!    and `partial = min(capacity, slots of all levels and banks)`: live records alone never
//!    need more than `full + partial`. Moving one chunk of `n` records down needs at most
//!    `n` new chunks before it frees its own, so a move compacts first unless more than `n`
//!    are free; after a compaction at least `full + partial + 2` are free, and a chunk holds
//!    at most `min(CHUNK, capacity) <= partial` live records (there are always more than
//!    `CHUNK` slots: at least 256).
//! 6. The slot of level `k >= 1` whose first tick is `F` is empty by the time `elapsed`
//!    reaches `F - span(k - 1)`; before `F - span(k)` it is not moved. Between the two it
//!    is the first occupied slot of its level, and each advance moves at least
//!    `ceil(chunks / (F - span(k - 1) - elapsed + 1))` of its chunks. So the records of a
//!    level-0 slot are all there when its tick comes, and those of a level-`k` slot when
//!    it starts moving.
//!
//! # Firing
//!
//! [`TimerWheel::poll`]`(now)` pops the front of the due queue if its deadline is `<= now`.
//! Otherwise, if `now` has moved into a later tick, it advances: it visits, in order, each
//! tick up to `now`'s at which something must happen, sets `elapsed` to it, finishes any
//! move whose deadline that is, and empties the level-0 slot of that tick (drops its
//! stale records, sorts the rest by deadline and appends them to the due queue); then it
//! sets `elapsed` to `now`'s tick and moves each moving slot's share. A timer therefore
//! never fires before its deadline (only records with `deadline <= now` leave), and timers
//! fire in deadline order, including several in the same tick. A record moves at most
//! once per level, so expiry costs O(levels) amortised per timer.
//!
//! [`TimerWheel::next_deadline`] is `None` when no timer is pending, else the exact
//! deadline of the due queue's front, else the earliest of the `level0_min` of the next
//! occupied level-0 slot and, per higher level, the tick at which its next slot must move
//! on to finish by its deadline at `PACE_CHUNKS` per advance: the owner sleeps until then,
//! so timers cost no syscall of their own, and it wakes for a move only when the move
//! would otherwise need more than that in one advance.
//!
//! This file uses only `std`, so benchmarks and tests can include it by path.

use std::collections::{TryReserveError, VecDeque};

/// No chunk.
const NIL: u32 = u32::MAX;
/// Records per chunk (2 KiB): long runs that the memory system streams in and out well,
/// and few chunk allocations per record. In the timers benchmark 128 measured clearly
/// faster than 32 and 64, and about as fast as 256, which would double the memory
/// reserved (not touched) for partly filled chunks.
const CHUNK: usize = 128;
/// The chunks per level that an advance at the time [`TimerWheel::next_deadline`] names
/// moves down at most (1024 records: some microseconds), unless a slot already held more
/// than this many per tick of its moving time when it began to move. An owner that
/// advances every tick moves an even share of each slot, usually less.
const PACE_CHUNKS: u64 = 8;

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

    /// How many chunks the list holds.
    fn chunks(&self) -> usize {
        if self.head == NIL {
            0
        } else {
            (self.len - self.tail_len as usize) / CHUNK + 1
        }
    }
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
    /// Every slot's records: `lists[(level * 2 + bank) * slots + slot]`.
    lists: Vec<SlotList>,
    /// Which lists are non-empty: bit `i` for `lists[i]`.
    occupied: Vec<u64>,
    /// How many lists of each level are non-empty, so that empty levels cost nothing.
    occupied_per_level: Vec<usize>,
    /// See invariant 3; indexed like `lists` (level 0 comes first).
    level0_min: Vec<u64>,
    due: VecDeque<Record>,
    /// The live records of a level-0 slot on their way to the due queue; preallocated.
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
    /// Records moved one level down so far, see [`TimerWheel::records_moved`].
    records_moved: u64,
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
    ///
    /// # Panics
    /// If the allocator refuses the storage; [`try_new`](Self::try_new) returns an error.
    #[allow(dead_code)] // the event loop uses `try_new`; tests and benchmarks include this file
    pub fn new(capacity: usize, tick_ns: u64, slots_per_level: usize) -> TimerWheel<T> {
        match TimerWheel::try_new(capacity, tick_ns, slots_per_level) {
            Ok(wheel) => wheel,
            Err(e) => panic!("TimerWheel::new({capacity}): {e}"),
        }
    }

    /// [`new`](Self::new), with an error instead of a panic (or an abort) when the
    /// allocator refuses the storage `capacity` timers need.
    pub fn try_new(capacity: usize, tick_ns: u64, slots_per_level: usize) -> Result<TimerWheel<T>, TryReserveError> {
        let capacity = capacity.min(Self::MAX_CAPACITY);
        let slots = slots_per_level.clamp(2, 1 << 16).next_power_of_two();
        let bits = slots.trailing_zeros();
        let levels = 64usize.div_ceil(bits as usize);
        // Two banks per level (see the module docs).
        let lists = levels * 2 * slots;
        // Invariant 5: live records fill at most `full + partial` chunks; as many again
        // are kept for stale records and for a move's records in flight.
        let full = capacity.div_ceil(CHUNK);
        let partial = capacity.min(lists);
        let chunk_pool = 2 * (full + partial) + 2;
        Ok(TimerWheel {
            entries: reserved(capacity)?,
            used: UsedBitmap::try_new(capacity)?,
            len: 0,
            chunks: reserved(chunk_pool)?,
            chunk_next: reserved(chunk_pool)?,
            chunk_pool,
            free_chunk: NIL,
            free_chunk_count: 0,
            lists: vec![SlotList::EMPTY; lists],
            occupied: vec![0; lists.div_ceil(64)],
            occupied_per_level: vec![0; levels],
            level0_min: vec![u64::MAX; 2 * slots],
            due: {
                let mut due = VecDeque::new();
                due.try_reserve_exact(capacity.max(1))?;
                due
            },
            batch: reserved(capacity)?,
            batch_order: reserved(capacity)?,
            tick_ns: tick_ns.max(1),
            bits,
            level_of_bit: std::array::from_fn(|bit| (bit as u32 / bits) as u8),
            tick_reciprocal: u64::MAX / tick_ns.max(1),
            slots,
            levels,
            elapsed: 0,
            records_moved: 0,
        })
    }

    /// How many timers are pending.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many records have been moved one level down since the wheel was made (stale
    /// ones included): the work of cascades, which the tests bound per
    /// [`poll`](Self::poll).
    #[allow(dead_code)] // Read by the tests and benchmarks that include this file.
    pub fn records_moved(&self) -> u64 {
        self.records_moved
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

    /// The time the owner should wake up at next (see the module docs), or `None` if no
    /// timer is pending. Never later than the earliest pending deadline; earlier when a
    /// slot must move down by then to keep each advance's work bounded.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if let Some(front) = self.due.front() {
            return Some(front.deadline_ns);
        }
        let mut wake_ns = None;
        let mut earliest = |ns: u64| wake_ns = Some(wake_ns.map_or(ns, |w: u64| w.min(ns)));
        if let Some((list, first_tick)) = self.first_occupied(0) {
            earliest(self.level0_min[list].max(first_tick.saturating_mul(self.tick_ns)));
        }
        for level in 1..self.levels {
            if let Some((list, first_tick)) = self.first_occupied(level) {
                earliest(self.move_wake_tick(level, list, first_tick).saturating_mul(self.tick_ns));
            }
        }
        wake_ns
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

    /// Moves `elapsed` up to `now_tick`: visits in order each tick on the way at which a
    /// level-0 slot comes due or a move reaches its deadline, then moves every moving
    /// slot's share (invariant 6).
    fn advance(&mut self, now_tick: u64) {
        while let Some((tick, moves_may_be_due)) = self.next_event() {
            if tick > now_tick {
                break;
            }
            // Events lie after `elapsed` (invariants 1 and 6) and are consumed where they
            // happen: one that does not move on would loop here for ever.
            assert!(
                tick > self.elapsed,
                "timer wheel invariant broken: event at tick {tick} is not after {}",
                self.elapsed
            );
            self.elapsed = tick;
            if moves_may_be_due {
                for level in 1..self.levels {
                    if let Some((list, first_tick)) = self.first_occupied(level) {
                        if self.move_window(level, first_tick).1 == tick {
                            // Only when the owner was late: see `next_deadline`.
                            self.move_down(list, usize::MAX);
                        }
                    }
                }
            }
            let list = self.list_of(0, tick);
            if self.lists[list].head != NIL {
                self.expire_level0_slot(list);
            }
        }
        // Invariant 1 holds for the new `elapsed`: every event left is after it.
        self.elapsed = now_tick;
        self.move_shares();
    }

    /// The next tick at which something must happen (a level-0 slot comes due, or a move
    /// reaches its deadline), and whether a move's deadline may be that tick.
    ///
    /// A move's deadline is after `elapsed` and, for a level-1 slot, the tick before a
    /// level-0 rotation starts, for a higher one the start of a level-0 rotation: so never
    /// before the last tick of `elapsed`'s level-0 rotation. A level-0 slot before that
    /// tick is the next event by itself, and the other levels need not be looked at.
    fn next_event(&self) -> Option<(u64, bool)> {
        let level0 = self.first_occupied(0).map(|(_, first_tick)| first_tick);
        let last_tick_of_rotation = self.elapsed | (self.slots as u64 - 1);
        if let Some(tick) = level0.filter(|&tick| tick < last_tick_of_rotation) {
            return Some((tick, false));
        }
        let mut next = level0;
        for level in 1..self.levels {
            if let Some((_, first_tick)) = self.first_occupied(level) {
                let deadline = self.move_window(level, first_tick).1;
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        next.map(|tick| (tick, true))
    }

    /// For the slot of `level >= 1` whose first tick is `first_tick`, the ticks from which
    /// it may move down and by which it must have (invariant 6).
    fn move_window(&self, level: usize, first_tick: u64) -> (u64, u64) {
        (first_tick - self.span(level), first_tick - self.span(level - 1))
    }

    /// The tick at which the owner must advance next so that the slot of `level >= 1` in
    /// `list`, first tick `first_tick`, can move at `PACE_CHUNKS` per advance and still be
    /// done by its deadline.
    fn move_wake_tick(&self, level: usize, list: usize, first_tick: u64) -> u64 {
        let (start, deadline) = self.move_window(level, first_tick);
        let advances_needed = (self.lists[list].chunks() as u64).div_ceil(PACE_CHUNKS);
        (deadline + 1).saturating_sub(advances_needed).max(start).max(self.elapsed.saturating_add(1))
    }

    /// Moves each level's moving slot down by its share: what is left, divided evenly
    /// over the advances left until its deadline, this one included (invariant 6).
    fn move_shares(&mut self) {
        for level in 1..self.levels {
            let Some((list, first_tick)) = self.first_occupied(level) else {
                continue;
            };
            let (start, deadline) = self.move_window(level, first_tick);
            if start > self.elapsed {
                continue;
            }
            debug_assert!(deadline > self.elapsed, "a move past its deadline was finished in `advance`");
            let advances_left = deadline - self.elapsed + 1;
            let share = (self.lists[list].chunks() as u64).div_ceil(advances_left);
            self.move_down(list, share as usize);
        }
    }

    /// Moves up to `max_chunks` chunks from the front of `list` (a slot of level >= 1) to
    /// their records' home levels, stale records too (telling would cost a read of each
    /// entry).
    fn move_down(&mut self, list: usize, max_chunks: usize) {
        let level = list / (2 * self.slots);
        let mut moved = 0;
        while moved < max_chunks {
            let mut slot = self.lists[list];
            if slot.head == NIL {
                return;
            }
            let mut chunk = slot.head;
            let mut count = if chunk == slot.tail { slot.tail_len as usize } else { CHUNK };
            if self.available_chunks() <= count {
                // Invariant 5: afterwards there is room, and the slot may be shorter.
                self.compact();
                slot = self.lists[list];
                if slot.head == NIL {
                    return;
                }
                chunk = slot.head;
                count = if chunk == slot.tail { slot.tail_len as usize } else { CHUNK };
                assert!(self.available_chunks() > count, "chunk pool sized in new() (invariant 5)");
            }
            if chunk == slot.tail {
                self.lists[list] = SlotList::EMPTY;
                self.set_occupied(list, false);
            } else {
                self.lists[list].head = self.chunk_next[chunk as usize];
                self.lists[list].len -= CHUNK;
            }
            for pos in 0..count {
                let record = self.chunks[chunk as usize].records[pos];
                // Every record of a moving slot is after `elapsed` (invariant 6), and its
                // home is below: a record filed back where it came from would be moved
                // again for ever.
                let tick = self.tick_of(record.deadline_ns);
                let home = self.home_level(tick);
                assert!(home < level, "timer wheel invariant broken: a record of level {level} moves to {home}");
                self.file_at_level(record, home, tick);
            }
            self.free_chunk(chunk);
            self.records_moved += count as u64;
            moved += 1;
        }
    }

    /// Empties the level-0 slot of tick `elapsed`: its live records go to the due queue in
    /// deadline order, its stale ones are dropped.
    fn expire_level0_slot(&mut self, list: usize) {
        let slot = std::mem::replace(&mut self.lists[list], SlotList::EMPTY);
        self.set_occupied(list, false);
        self.level0_min[list] = u64::MAX;
        let mut chunk = slot.head;
        while chunk != NIL {
            let next = self.chunk_next[chunk as usize];
            let count = if chunk == slot.tail { slot.tail_len as usize } else { CHUNK };
            self.batch_live_records(chunk, count);
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

    /// `tick`'s rotation at `level` (0 at the top level, which has a single one).
    fn rotation(&self, level: usize, tick: u64) -> u64 {
        // Two shifts, each under 64 (a single one by 64 or more would overflow).
        tick >> (self.bits * level as u32) >> self.bits
    }

    /// Ticks per slot of `level`: 2^(level · bits), which fits in a `u64` for every level.
    fn span(&self, level: usize) -> u64 {
        1 << (self.bits * level as u32)
    }

    /// The list of `tick`'s slot at `level`: the bank of its rotation, the slot of its digit.
    #[inline(always)]
    fn list_of(&self, level: usize, tick: u64) -> usize {
        let digit_shift = self.bits * level as u32;
        // Two shifts, each under 64: past the top level's digit they leave 0, bank 0.
        let bank = ((tick >> digit_shift >> self.bits) & 1) as usize;
        let digit = ((tick >> digit_shift) as usize) & (self.slots - 1);
        (level * 2 + bank) * self.slots + digit
    }

    /// The lowest level where `tick > elapsed` is in `elapsed`'s rotation or the next.
    #[inline(always)]
    fn home_level(&self, tick: u64) -> usize {
        // The lowest level where `tick` is in `elapsed`'s rotation is that of the highest
        // bit in which they differ; the next rotation may be found a level or more lower.
        let highest_differing_bit = 63 - (tick ^ self.elapsed).leading_zeros();
        let mut level = self.level_of_bit[highest_differing_bit as usize] as usize;
        while level > 0 {
            // The rotation at `level - 1` (below the top, so the shift is under 64).
            let shift = self.bits * level as u32;
            if (tick >> shift) - (self.elapsed >> shift) > 1 {
                break;
            }
            level -= 1;
        }
        level
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

    /// Files `record`, whose tick is `tick > elapsed`, in its slot at its home level:
    /// inlined for the common case, a slot whose last chunk has room.
    #[inline(always)]
    fn file_in_slot(&mut self, record: Record, tick: u64) {
        self.file_at_level(record, self.home_level(tick), tick);
    }

    /// Files `record`, whose tick is `tick`, in its slot at `level`.
    #[inline(always)]
    fn file_at_level(&mut self, record: Record, level: usize, tick: u64) {
        let list_index = self.list_of(level, tick);
        let list = &mut self.lists[list_index];
        if list.tail == NIL || list.tail_len as usize == CHUNK {
            return self.file_in_new_chunk(record, list_index);
        }
        self.chunks[list.tail as usize].records[list.tail_len as usize] = record;
        list.tail_len += 1;
        list.len += 1;
        if let Some(min) = self.level0_min.get_mut(list_index) {
            *min = (*min).min(record.deadline_ns);
        }
    }

    /// Files `record` in list `list_index`, whose last chunk is full or absent.
    #[inline(never)]
    fn file_in_new_chunk(&mut self, record: Record, list_index: usize) {
        let mut list = self.lists[list_index];
        let needs_chunk = |list: &SlotList| list.tail == NIL || list.tail_len as usize == CHUNK;
        if needs_chunk(&list) && self.available_chunks() == 0 {
            // Only an insert gets here (a move makes room first); compacting may have
            // shortened this very list.
            self.compact();
            list = self.lists[list_index];
        }
        if needs_chunk(&list) {
            let chunk = self.alloc_chunk();
            if list.tail == NIL {
                list.head = chunk;
                self.set_occupied(list_index, true);
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
        if let Some(min) = self.level0_min.get_mut(list_index) {
            *min = (*min).min(record.deadline_ns);
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
        if kept == 0 {
            self.free_chunk(write_chunk);
            self.lists[list_index] = SlotList::EMPTY;
            self.set_occupied(list_index, false);
        } else {
            self.chunk_next[write_chunk as usize] = NIL;
            self.lists[list_index] =
                SlotList { head: list.head, tail: write_chunk, tail_len: write_pos as u32, len: kept };
        }
        if let Some(min) = self.level0_min.get_mut(list_index) {
            *min = min_deadline;
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

    fn set_occupied(&mut self, list_index: usize, occupied: bool) {
        let word = &mut self.occupied[list_index / 64];
        let bit = 1u64 << (list_index % 64);
        let level = list_index / (2 * self.slots);
        if occupied {
            debug_assert!(*word & bit == 0);
            *word |= bit;
            self.occupied_per_level[level] += 1;
        } else {
            debug_assert!(*word & bit != 0);
            *word &= !bit;
            self.occupied_per_level[level] -= 1;
        }
    }

    /// The first occupied slot of `level` (invariant 1: after `elapsed`'s digit in its
    /// bank, else in the other bank), as its list and its first tick.
    fn first_occupied(&self, level: usize) -> Option<(usize, u64)> {
        if self.occupied_per_level[level] == 0 {
            return None;
        }
        let mut rotation = self.rotation(level, self.elapsed);
        let digit = ((self.elapsed >> (self.bits * level as u32)) as usize) & (self.slots - 1);
        let level_start = level * 2 * self.slots;
        let bank_start = level_start + (rotation & 1) as usize * self.slots;
        let list = match self.first_set(bank_start + digit + 1, bank_start + self.slots) {
            Some(list) => list,
            None => {
                rotation += 1;
                let other_bank_start = level_start + (rotation & 1) as usize * self.slots;
                self.first_set(other_bank_start, other_bank_start + self.slots)?
            }
        };
        let slot = ((list - level_start) % self.slots) as u64;
        let digit_shift = self.bits * level as u32;
        Some((list, (rotation << self.bits | slot) << digit_shift))
    }

    /// The first occupied list in `from..to`.
    fn first_set(&self, from: usize, to: usize) -> Option<usize> {
        if from >= to {
            return None;
        }
        let mut word_index = from / 64;
        let mut word = self.occupied[word_index] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                let list = word_index * 64 + word.trailing_zeros() as usize;
                return (list < to).then_some(list);
            }
            word_index += 1;
            if word_index * 64 >= to {
                return None;
            }
            word = self.occupied[word_index];
        }
    }
}

/// An empty `Vec` with room for exactly `capacity` elements, or the allocator's refusal.
fn reserved<E>(capacity: usize) -> Result<Vec<E>, TryReserveError> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(capacity)?;
    Ok(vec)
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
    fn try_new(capacity: usize) -> Result<UsedBitmap, TryReserveError> {
        let mut levels = Vec::new();
        let mut bits = capacity.max(1);
        loop {
            let words = bits.div_ceil(64);
            let mut level = reserved(words)?;
            level.resize(words, 0u64);
            levels.push(level);
            if words == 1 {
                break;
            }
            bits = words;
        }
        Ok(UsedBitmap { levels, capacity })
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
