//! Evaluating comparisons, LIKE, IN, EXISTS and logic allocates nothing: strings are
//! borrowed from the event and the compiled expression. Checked with a counting allocator.
#![allow(unsafe_code)] // a GlobalAlloc implementation is unsafe by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use weft_cesql::{Expression, Value};
use weft_event::Event;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn event() -> Event {
    let mut e = Event::new("evt-1", "/erp/eu", "com.example.order.created");
    e.subject = Some("order-7".into());
    e.extensions.insert("sequence".into(), "42".into());
    e.extensions.insert("region".into(), "eu-west".into());
    e
}

#[test]
fn simple_filters_evaluate_without_allocating() {
    let event = event();
    for sql in [
        "type = 'com.example.order.created'",
        "type != 'x'",
        "'com.example.order.created' = type",
        "sequence = 42",
        "sequence > 5 AND sequence <= 100",
        "sequence + 1 = 43",
        "sequence % 2 = 0",
        "type LIKE 'com.example.%'",
        "type LIKE '%.created'",
        "source LIKE '/erp/_u'",
        "source NOT LIKE '%crm%'",
        "source IN ('/erp/us', '/erp/eu')",
        "sequence IN (1, 42)",
        "EXISTS subject AND NOT EXISTS missing",
        "TRIM(region) = 'eu-west'",
        "LENGTH(type) > 3",
        "SUBSTRING(type, 1, 3) = 'com'",
        "LEFT(region, 2) = 'eu' OR RIGHT(region, 4) = 'west'",
        "(type = 'a' OR region = 'eu-west') XOR FALSE",
    ] {
        let expression = Expression::parse(sql).unwrap();
        assert!(expression.matches(&event), "{sql} should match");
        let count = allocations_during(|| {
            for _ in 0..100 {
                assert!(expression.matches(&event));
                assert_eq!(expression.eval(&event).value, Value::Bool(true));
            }
        });
        assert_eq!(
            count, 0,
            "`{sql}` allocated {count} times in 100 evaluations"
        );
    }
}

#[test]
fn the_counter_sees_allocations() {
    let event = event();
    let expression = Expression::parse("CONCAT(type, '!') = 'x'").unwrap();
    let count = allocations_during(|| {
        expression.matches(&event);
    });
    assert!(count > 0);
}
