//! `util::Slab`: tokens handed out, looked up and taken back; a fixed slab refuses when full
//! (without allocating), a growable one grows; unknown tokens are `None`, never a panic.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{thread_allocations, CountingAlloc};
use readyio::util::Slab;
use readyio::Token;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn full_fixed_slab_gives_the_value_back() {
    let mut slab = Slab::with_capacity(2);
    let a = slab.insert(String::from("a")).unwrap();
    let b = slab.insert(String::from("b")).unwrap();
    assert!(!slab.has_remaining());
    assert_eq!(slab.insert(String::from("c")), Err(String::from("c")));
    assert_eq!(slab.insert_with(|_| unreachable!("not called when full")), None);
    assert_eq!(slab.len(), 2);
    assert_eq!((slab[a].as_str(), slab[b].as_str()), ("a", "b"));
}

#[test]
fn removed_token_is_reused_by_the_next_insert() {
    let mut slab = Slab::with_capacity(2);
    let a = slab.insert('a').unwrap();
    slab.insert('b').unwrap();
    assert_eq!(slab.remove(a), Some('a'));
    assert!(!slab.contains(a));
    assert_eq!(slab.insert('c'), Ok(a));
    assert_eq!(slab[a], 'c');
}

#[test]
fn fixed_slab_does_not_allocate_while_inserting_up_to_its_capacity() {
    let mut slab = Slab::with_capacity(1000);
    let before = thread_allocations();
    for i in 0..1000u64 {
        slab.insert(i).unwrap();
    }
    for i in 0..500 {
        slab.remove(Token(i));
    }
    for i in 0..500u64 {
        slab.insert(i).unwrap();
    }
    assert_eq!(slab.insert(0), Err(0), "full");
    assert_eq!(thread_allocations() - before, 0, "a fixed slab allocates only in with_capacity");
}

#[test]
fn growable_slab_grows_past_its_initial_capacity() {
    let mut slab = Slab::growable();
    assert!(slab.is_growable());
    let tokens: Vec<Token> = (0..10_000).map(|i| slab.insert(i).unwrap()).collect();
    assert_eq!(slab.len(), 10_000);
    assert_eq!(slab[tokens[9_999]], 9_999);
}

#[test]
fn grow_raises_the_limit_of_a_fixed_slab() {
    let mut slab = Slab::with_capacity(1);
    slab.insert(1).unwrap();
    assert_eq!(slab.insert(2), Err(2));
    slab.grow(1);
    assert_eq!(slab.capacity(), 2);
    assert!(slab.insert(2).is_ok());
    assert_eq!(slab.insert(3), Err(3));
}

#[test]
fn tokens_start_at_the_offset_and_lower_tokens_are_unknown() {
    const LISTENER: Token = Token(0);
    let mut slab = Slab::new_starting_at(Token(10), 4);
    let first = slab.insert("conn").unwrap();
    assert_eq!(first, Token(10));
    assert_eq!(slab.get(LISTENER), None);
    assert_eq!(slab.get(Token(9)), None);
    assert_eq!(slab.remove(LISTENER), None);
    assert_eq!(slab.get_mut(first).map(|s| *s), Some("conn"));
}

#[test]
fn unknown_tokens_are_none_not_a_panic() {
    let mut slab: Slab<u8> = Slab::new(4);
    for token in [Token(0), Token(3), Token(4), Token(usize::MAX)] {
        assert_eq!(slab.get(token), None);
        assert_eq!(slab.get_mut(token), None);
        assert_eq!(slab.remove(token), None);
        assert!(!slab.contains(token));
    }
}

#[test]
#[should_panic(expected = "no slab entry for Token(7)")]
fn indexing_an_unknown_token_panics_like_every_index() {
    let slab: Slab<u8> = Slab::with_capacity(1);
    let _ = slab[Token(7)];
}

#[test]
fn reserved_token_is_never_handed_out() {
    let mut slab = Slab::growable_starting_at(Token(usize::MAX - 2));
    assert_eq!(slab.insert('a'), Ok(Token(usize::MAX - 2)));
    assert_eq!(slab.insert('b'), Ok(Token(usize::MAX - 1)));
    assert_eq!(slab.insert('c'), Err('c'));
    assert!(!slab.has_remaining());
}

#[test]
fn iteration_yields_tokens_in_order_and_allows_mutation() {
    let mut slab = Slab::new_starting_at(Token(1), 8);
    for word in ["a", "b", "c"] {
        slab.insert(String::from(word)).unwrap();
    }
    slab.remove(Token(2));
    for (_, value) in &mut slab {
        value.push('!');
    }
    let seen: Vec<(Token, &str)> = slab.iter().map(|(t, v)| (t, v.as_str())).collect();
    assert_eq!(seen, [(Token(1), "a!"), (Token(3), "c!")]);

    slab.retain(|token, _| token != Token(1));
    assert_eq!(slab.len(), 1);
    slab.clear();
    assert!(slab.is_empty());
    assert_eq!(slab.capacity(), 8);
}

#[test]
fn insert_with_gives_the_value_its_own_token() {
    let mut slab = Slab::new_starting_at(Token(5), 2);
    let token = slab.insert_with(|token| token.as_usize() * 2).unwrap();
    assert_eq!(slab[token], 10);
}
