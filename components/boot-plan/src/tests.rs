extern crate std;

use std::vec::Vec;

use super::*;

struct Spec(Vec<Shape>);

impl Objects for Spec {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn shape(&self, id: usize) -> Shape {
        self.0[id]
    }
}

fn object(size_bits: u8) -> Shape {
    Shape { size_bits: Some(size_bits), paddr: None, embedded: false }
}

fn device_frame(paddr: u64) -> Shape {
    Shape { size_bits: Some(12), paddr: Some(paddr), embedded: false }
}

fn embedded_frame() -> Shape {
    Shape { size_bits: Some(12), paddr: None, embedded: true }
}

fn ram(paddr: u64, size_bits: u8) -> Untyped {
    Untyped { paddr, size_bits, is_device: false }
}

fn device(paddr: u64, size_bits: u8) -> Untyped {
    Untyped { paddr, size_bits, is_device: true }
}

fn steps(untypeds: &[Untyped], spec: &Spec) -> Result<Vec<Step>, PlanError<()>> {
    let mut out = Vec::new();
    plan(untypeds, spec, |s| {
        out.push(s);
        Ok(())
    })?;
    Ok(out)
}

/// Every object placed once, aligned to its size, inside its untyped, and
/// no two retypes overlapping.
fn check_layout(untypeds: &[Untyped], spec: &Spec, steps: &[Step]) {
    let mut placed = std::vec![false; spec.count()];
    let mut ranges = Vec::new();
    for step in steps {
        let (ut, paddr, bits) = match *step {
            Step::Object { untyped, object, paddr } => {
                assert!(!placed[object], "object {object} placed twice");
                placed[object] = true;
                let shape = spec.shape(object);
                assert!(!shape.embedded, "embedded frame {object} allocated");
                if let Some(fixed) = shape.paddr {
                    assert_eq!(fixed, paddr, "object {object} away from its address");
                }
                (untyped, paddr, shape.size_bits.unwrap())
            }
            Step::Padding { untyped, size_bits, paddr } => (untyped, paddr, size_bits),
        };
        let ut = untypeds[ut];
        assert_eq!(paddr % (1 << bits), 0, "misaligned retype at {paddr:#x}");
        assert!(ut.paddr <= paddr && paddr + (1 << bits) <= ut.end());
        ranges.push((paddr, paddr + (1 << bits)));
    }
    ranges.sort();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping retypes {pair:?}");
    }
    for (id, done) in placed.iter().enumerate() {
        assert_eq!(*done, !spec.shape(id).embedded, "object {id}");
    }
}

#[test]
fn objects_fill_memory_largest_first_in_spec_order() {
    let spec = Spec(std::vec![object(16), object(14), object(12), object(12), object(8)]);
    let untypeds = [ram(0x4000_0000, 20)];
    let steps = steps(&untypeds, &spec).unwrap();
    let order: Vec<usize> = steps
        .iter()
        .map(|s| match s {
            Step::Object { object, .. } => *object,
            Step::Padding { .. } => panic!("no padding without fixed addresses"),
        })
        .collect();
    assert_eq!(order, [0, 1, 2, 3, 4]);
    check_layout(&untypeds, &spec, &steps);
}

#[test]
fn untypeds_are_walked_by_address_not_by_boot_order() {
    let spec = Spec(std::vec![object(12), object(12)]);
    let untypeds = [ram(0x5000_0000, 12), ram(0x4000_0000, 12)];
    let steps = steps(&untypeds, &spec).unwrap();
    assert_eq!(steps[0], Step::Object { untyped: 1, object: 0, paddr: 0x4000_0000 });
    assert_eq!(steps[1], Step::Object { untyped: 0, object: 1, paddr: 0x5000_0000 });
}

#[test]
fn a_small_untyped_takes_smaller_objects_while_larger_ones_wait() {
    let spec = Spec(std::vec![object(16), object(12)]);
    let untypeds = [ram(0x1000, 12), ram(0x10_0000, 16)];
    let steps = steps(&untypeds, &spec).unwrap();
    assert_eq!(steps[0], Step::Object { untyped: 0, object: 1, paddr: 0x1000 });
    assert_eq!(steps[1], Step::Object { untyped: 1, object: 0, paddr: 0x10_0000 });
}

#[test]
fn device_frames_land_at_their_address_with_kept_padding_before_them() {
    let spec = Spec(std::vec![device_frame(0x0900_0000), device_frame(0x0a00_3000)]);
    let untypeds = [device(0x0800_0000, 26)];
    let steps = steps(&untypeds, &spec).unwrap();
    check_layout(&untypeds, &spec, &steps);
    assert!(steps.iter().any(|s| matches!(s, Step::Padding { .. })));
    let frames: Vec<&Step> = steps.iter().filter(|s| matches!(s, Step::Object { .. })).collect();
    assert_eq!(*frames[0], Step::Object { untyped: 0, object: 0, paddr: 0x0900_0000 });
    assert_eq!(*frames[1], Step::Object { untyped: 0, object: 1, paddr: 0x0a00_3000 });
}

#[test]
fn ordinary_objects_fill_the_gap_before_a_fixed_ram_frame() {
    // A frame fixed in RAM (a region with phys_addr): the memory below it is
    // used for other objects rather than wasted on padding.
    let spec = Spec(std::vec![device_frame(0x4000_4000), object(14), object(12)]);
    let untypeds = [ram(0x4000_0000, 16)];
    let steps = steps(&untypeds, &spec).unwrap();
    check_layout(&untypeds, &spec, &steps);
    assert_eq!(steps[0], Step::Object { untyped: 0, object: 1, paddr: 0x4000_0000 });
    assert_eq!(steps[1], Step::Object { untyped: 0, object: 0, paddr: 0x4000_4000 });
    assert_eq!(steps[2], Step::Object { untyped: 0, object: 2, paddr: 0x4000_5000 });
}

#[test]
fn embedded_frames_are_never_allocated() {
    let spec = Spec(std::vec![object(13), embedded_frame(), object(12), embedded_frame()]);
    let untypeds = [ram(0x4000_0000, 14)];
    let steps = steps(&untypeds, &spec).unwrap();
    check_layout(&untypeds, &spec, &steps);
    assert_eq!(steps.len(), 2);
}

#[test]
fn a_fixed_address_no_untyped_covers_is_refused() {
    let spec = Spec(std::vec![device_frame(0x0900_0000), object(12)]);
    let untypeds = [ram(0x4000_0000, 20)];
    assert_eq!(
        steps(&untypeds, &spec),
        Err(PlanError::AddressNotCovered { object: 0, paddr: 0x0900_0000 })
    );
}

#[test]
fn a_fixed_object_straddling_the_end_of_an_untyped_is_refused() {
    let spec = Spec(std::vec![Shape { size_bits: Some(13), paddr: Some(0x1000), embedded: false }]);
    let untypeds = [device(0x0, 13)];
    assert_eq!(steps(&untypeds, &spec), Err(PlanError::AddressNotCovered { object: 0, paddr: 0x1000 }));
}

#[test]
fn running_out_of_memory_names_the_size_and_the_shortfall() {
    let spec = Spec(std::vec![object(14), object(12), object(12), object(12), object(12), object(12)]);
    let untypeds = [ram(0x4000_0000, 15)];
    assert_eq!(
        steps(&untypeds, &spec),
        Err(PlanError::OutOfMemory { size_bits: 12, missing: 1 })
    );
}

#[test]
fn device_memory_takes_no_ordinary_objects() {
    let spec = Spec(std::vec![object(12)]);
    let untypeds = [device(0x0900_0000, 20)];
    assert_eq!(steps(&untypeds, &spec), Err(PlanError::OutOfMemory { size_bits: 12, missing: 1 }));
}

#[test]
fn specs_out_of_the_tools_order_are_refused() {
    let untypeds = [ram(0x4000_0000, 20), device(0x0900_0000, 24)];
    let growing = Spec(std::vec![object(12), object(14)]);
    assert_eq!(steps(&untypeds, &growing), Err(PlanError::Unordered { object: 1 }));
    let late_fixed = Spec(std::vec![object(12), device_frame(0x0900_0000)]);
    assert_eq!(steps(&untypeds, &late_fixed), Err(PlanError::Unordered { object: 1 }));
    let unsorted = Spec(std::vec![device_frame(0x0900_2000), device_frame(0x0900_0000)]);
    assert_eq!(steps(&untypeds, &unsorted), Err(PlanError::Unordered { object: 1 }));
}

#[test]
fn a_failing_step_stops_the_plan() {
    let spec = Spec(std::vec![object(12), object(12), object(12)]);
    let untypeds = [ram(0x4000_0000, 16)];
    let mut calls = 0;
    let result = plan(&untypeds, &spec, |_| {
        calls += 1;
        if calls == 2 { Err("retype failed") } else { Ok(()) }
    });
    assert_eq!(result, Err(PlanError::Step("retype failed")));
    assert_eq!(calls, 2);
}

/// A pseudo-random mix of sizes and device frames over several untypeds
/// always lays out cleanly when it fits.
#[test]
fn mixed_specs_lay_out_without_overlap() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let mut fixed: Vec<u64> = (0..(next() % 4)).map(|_| 0x0900_0000 + (next() % 256) * 0x1000).collect();
        fixed.sort();
        fixed.dedup();
        let mut sizes: Vec<u8> = (0..(next() % 40)).map(|_| [4, 8, 10, 12, 12, 13, 14, 16][(next() % 8) as usize]).collect();
        sizes.sort_by(|a, b| b.cmp(a));
        let mut shapes: Vec<Shape> = fixed.iter().map(|&p| device_frame(p)).collect();
        shapes.extend(sizes.iter().map(|&b| object(b)));
        let spec = Spec(shapes);
        let untypeds = [ram(0x4010_0000, 20), device(0x0900_0000, 20), ram(0x4000_0000, 18)];
        let steps = steps(&untypeds, &spec).unwrap();
        check_layout(&untypeds, &spec, &steps);
    }
}
