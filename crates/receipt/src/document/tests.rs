//! The documents' layout and encoding, read back by `render`.
use super::*;
use crate::render::render;

fn ticket() -> KitchenTicket {
    KitchenTicket {
        order_number: "S01-R2-000124".into(),
        time: "10:16".into(),
        station: Some("Grill".into()),
        note: Some("table 4".into()),
        lines: vec![TicketLine {
            quantity: "2".into(),
            name: "Burger".into(),
            note: Some("no onions".into()),
        }],
        cancelled: false,
    }
}

fn sample() -> Receipt {
    Receipt {
        store: "Corner Deli".into(),
        header: vec!["1 Main St".into()],
        order_number: "S01-R2-000123".into(),
        order_id: "0193a0f4-7b1e-7c3d-9a4e-5f6a7b8c9d0e".into(),
        time: "2026-11-23 10:15".into(),
        cashier: Some("Ana".into()),
        refund: false,
        lines: vec![
            ReceiptLine {
                name: "Milk 1l".into(),
                quantity: "2".into(),
                amount: "3.98".into(),
                detail: None,
            },
            ReceiptLine {
                name: "Sourdough loaf, organic, sliced on request at the counter".into(),
                quantity: "1".into(),
                amount: "4.50".into(),
                detail: Some("price override".into()),
            },
        ],
        discount: None,
        taxes: vec![Labelled {
            label: "VAT 7% incl.".into(),
            amount: "0.55".into(),
        }],
        total: "8.48".into(),
        payments: vec![Labelled {
            label: "Cash".into(),
            amount: "10.00".into(),
        }],
        change: Some("1.52".into()),
        footer: vec!["Thank you".into()],
    }
}

#[test]
fn a_receipt_renders_back_to_exactly_its_lines_and_totals() {
    let r = sample();
    let out = receipt(&r, &Profile::default(), true).unwrap();
    let page = render(&out.bytes);
    let text = page.text();
    assert!(page.drawer_kicks == 2, "both pins");
    assert_eq!(page.cuts, 1);
    assert_eq!(page.qr, vec![r.order_id.clone()]);
    assert_eq!(page.barcodes, vec!["S01-R2-000123".to_owned()]);
    let milk = text.lines().find(|l| l.starts_with("2 x Milk 1l")).unwrap();
    assert!(milk.ends_with(" 3.98"), "{milk}");
    assert_eq!(milk.chars().count(), 48);
    assert!(text.contains("Sourdough loaf"));
    assert!(text.lines().any(|l| l.ends_with(" 4.50")));
    assert!(text.contains("  price override"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("TOTAL") && l.ends_with("8.48"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("Change") && l.ends_with("1.52"))
    );
    assert!(text.lines().all(|l| l.chars().count() <= 48), "{text}");
    // Every amount of the order is there, and no other.
    let amounts: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .collect();
    assert_eq!(amounts, ["3.98", "4.50", "8.48", "0.55", "10.00", "1.52"]);
}

#[test]
fn golden_bytes_of_a_short_receipt_in_cp437() {
    let r = Receipt {
        store: "A".into(),
        header: vec![],
        order_number: "S1-R1-000001".into(),
        order_id: "x".into(),
        time: "t".into(),
        cashier: None,
        refund: false,
        lines: vec![ReceiptLine {
            name: "Tea".into(),
            quantity: "1".into(),
            amount: "2.00".into(),
            detail: None,
        }],
        discount: None,
        taxes: vec![],
        total: "2.00".into(),
        payments: vec![],
        change: None,
        footer: vec![],
    };
    let out = receipt(
        &r,
        &Profile {
            width: 16,
            code_pages: vec![CodePage::Cp437],
            logo: None,
        },
        false,
    )
    .unwrap();
    let mut want: Vec<u8> = vec![0x1b, b'@', 0x1b, b't', 0];
    // Store name: centred, bold, double size.
    want.extend([0x1b, b'a', 1, 0x1b, b'E', 1, 0x1d, b'!', 0x11, b'A', b'\n']);
    want.extend([0x1d, b'!', 0x00, 0x1b, b'E', 0, 0x1b, b'a', 0]);
    want.extend([0x1b, b'd', 1]);
    want.extend([0x1b, b'E', 1]);
    want.extend(b"S1-R1-000001   t\n");
    want.extend([0x1b, b'E', 0]);
    want.extend(b"----------------\n1 x Tea     2.00\n----------------\n");
    assert_eq!(
        &out.bytes[..want.len()],
        &want[..],
        "\n got {:?}\nwant {:?}",
        String::from_utf8_lossy(&out.bytes[..want.len()]),
        String::from_utf8_lossy(&want)
    );
    // Ends with the QR code's print command, back to the left, three lines of feed, a partial cut.
    assert!(out.bytes.ends_with(&[
        0x1d, b'(', b'k', 3, 0, 49, 81, 48, 0x1b, b'a', 0, 0x1b, b'd', 3, 0x1d, b'V', b'A', 1
    ]));
}

#[test]
fn a_logo_prints_first_centred_on_the_paper_and_only_on_receipts() {
    let mut logo = raster::Bitmap::new(96, 8);
    for y in 0..8 {
        for x in 0..96 {
            logo.set(x, y);
        }
    }
    let profile = Profile {
        width: 32,
        logo: Some(std::sync::Arc::new(logo)),
        ..Profile::default()
    };
    let out = receipt(&sample(), &profile, true).unwrap();
    let page = crate::render::picture(&out.bytes, 384);
    let text = render(&out.bytes).text();
    assert!(
        text.starts_with("[image 384x8]\n"),
        "the logo comes first, a paper's width: {text}"
    );
    // Centred: (384 - 96) / 2 = 144 dots of paper either side.
    assert!(!page.get(143, 0) && page.get(144, 0) && page.get(239, 7) && !page.get(240, 7));
    assert!(
        render(&kitchen_ticket(&ticket(), &profile).unwrap().bytes)
            .text()
            .lines()
            .all(|l| !l.starts_with("[image")),
        "kitchen tickets carry no logo"
    );
}

#[test]
fn letters_pick_a_code_page_that_holds_them() {
    for (name, page, byte) in [
        ("Crème brûlée", CodePage::Cp437, 0x8a), // è in CP437
        ("Kuře s rýží", CodePage::Cp852, 0xfd),  // ř in CP852
        ("Борщ", CodePage::Cp866, 0x81),         // Б in CP866
        ("Σουβλάκι", CodePage::Cp737, 0x91),     // Σ in CP737
        ("Café 5 €", CodePage::Cp858, 0xd5),     // € in CP858
    ] {
        let mut r = sample();
        r.lines[0].name = name.into();
        let out = receipt(&r, &Profile::default(), false).unwrap();
        assert_eq!(out.code_page, page, "{name}");
        assert!(out.replaced.is_empty(), "{name}: {:?}", out.replaced);
        assert!(out.bytes.contains(&byte), "{name}");
        assert!(render(&out.bytes).text().contains(name), "{name}");
    }
    // No code page has these: their line prints as dots, drawn with the
    // raster font, a paper's width (48 cells of 12 dots), and nothing is
    // replaced.
    let mut r = sample();
    r.lines[0].name = "寿司".into();
    let out = receipt(&r, &Profile::default(), false).unwrap();
    assert!(out.replaced.is_empty(), "{:?}", out.replaced);
    let text = render(&out.bytes).text();
    assert_eq!(
        text.matches("[image 576x24]").count(),
        1,
        "one line, its amount flush right (wide letters take two columns): {text}"
    );
    assert!(!text.contains('?') && !text.contains("寿"), "{text}");
    assert!(text.contains("TOTAL"), "the rest is still text: {text}");
    // A character no font has either is left blank, and reported.
    r.lines[0].name = "寿司\u{1F600}".into();
    let out = receipt(&r, &Profile::default(), false).unwrap();
    assert_eq!(out.replaced, vec!['\u{1F600}']);
}

#[test]
fn a_receipt_printed_again_without_its_drawer_kick_is_the_same_receipt() {
    let r = sample();
    let with = receipt(&r, &Profile::default(), true).unwrap().bytes;
    let without = receipt(&r, &Profile::default(), false).unwrap().bytes;
    assert_eq!(render(&with).drawer_kicks, 2);
    assert_eq!(super::without_drawer(&with), without);
    assert_eq!(render(&super::without_drawer(&with)).drawer_kicks, 0);
    // Nothing to take out: the same bytes.
    assert_eq!(super::without_drawer(&without), without);
    assert_eq!(super::without_drawer(&[]), Vec::<u8>::new());
}

#[test]
fn a_refund_says_so_and_a_kitchen_ticket_prints_big_with_notes() {
    let mut r = sample();
    r.refund = true;
    let text = render(&receipt(&r, &Profile::default(), false).unwrap().bytes).text();
    assert!(text.contains("REFUND"));
    let t = ticket();
    let page = render(&kitchen_ticket(&t, &Profile::default()).unwrap().bytes);
    let text = page.text();
    assert!(
        text.contains("2 x Burger") && text.contains("! no onions") && text.contains("table 4")
    );
    assert!(!text.contains("CANCELLED"));
    assert_eq!(page.drawer_kicks, 0);
    let voided = KitchenTicket {
        cancelled: true,
        ..t
    };
    let text = render(&kitchen_ticket(&voided, &Profile::default()).unwrap().bytes).text();
    assert!(
        text.trim_start().starts_with("CANCELLED") && text.contains("2 x Burger"),
        "{text}"
    );
}

#[test]
fn invalid_documents_are_refused_with_the_reason() {
    let mut r = sample();
    r.lines.clear();
    assert!(
        matches!(receipt(&r, &Profile::default(), false), Err(DocumentError::Invalid(m)) if m.contains("lines"))
    );
    let mut r = sample();
    r.lines[0].name = "a\x1b@b".into();
    assert!(
        matches!(receipt(&r, &Profile::default(), false), Err(DocumentError::Invalid(m)) if m.contains("control"))
    );
    let mut r = sample();
    r.order_number = "S01 R2".into();
    assert!(receipt(&r, &Profile::default(), false).is_err());
}
