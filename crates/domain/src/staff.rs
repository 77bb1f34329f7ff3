//! Staff roles, what each may do, and PINs.

use crate::error::{DomainError, Result};
use serde::Serialize;

/// Roles in increasing power; each includes everything the one before may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Supervisor,
    Manager,
    Admin,
}

/// Actions that a role check guards. Those marked privileged go to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Sell,
    VoidLine,
    Refund,
    PriceOverride,
    OpenDrawer,
    ManageStaff,
    ManageProducts,
    ManageStock,
    ManageShifts,
    ViewReports,
    ViewAudit,
    ManageDevices,
    ManageSettings,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cashier" => Ok(Role::Cashier),
            "supervisor" => Ok(Role::Supervisor),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(DomainError::UnknownRole(other.chars().take(32).collect())),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Supervisor => "supervisor",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
    /// The least role that may perform `p`.
    fn least_for(p: Permission) -> Role {
        use Permission::*;
        match p {
            Sell => Role::Cashier,
            VoidLine | Refund | PriceOverride | OpenDrawer => Role::Supervisor,
            ManageStaff | ManageProducts | ManageStock | ManageShifts | ViewReports | ViewAudit
            | ManageDevices => Role::Manager,
            ManageSettings => Role::Admin,
        }
    }
    pub fn allows(self, p: Permission) -> bool {
        self >= Role::least_for(p)
    }
}

/// A PIN as typed on the till: 4 to 8 digits. Kept only long enough to hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// PINs people pick first that no rule below catches (the most common
/// four-digit PINs in leaked sets).
const COMMON_PINS: [&str; 8] = [
    "2580", "1004", "2000", "6969", "1122", "1313", "4321", "5683",
];

impl Pin {
    /// A new PIN: 4 to 8 digits, and not one guessed first: one digit or a
    /// group of digits repeated (1111, 1212, 123123), a run up or down
    /// (1234, 9876, 7890), or one of [`COMMON_PINS`].
    pub fn parse(s: &str) -> Result<Self> {
        if !(4..=8).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::InvalidPin);
        }
        if is_weak(s.as_bytes()) {
            return Err(DomainError::WeakPin);
        }
        Ok(Pin(s.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn is_weak(d: &[u8]) -> bool {
    let n = d.len();
    let repeated = (1..=n / 2)
        .any(|p| n.is_multiple_of(p) && d.iter().enumerate().all(|(i, b)| *b == d[i % p]));
    let run = |step: i8| {
        d.windows(2)
            .all(|w| (w[1] as i8 - w[0] as i8).rem_euclid(10) == step.rem_euclid(10))
    };
    repeated || run(1) || run(-1) || COMMON_PINS.contains(&std::str::from_utf8(d).unwrap_or(""))
}

/// The largest discount each role gives without a supervisor's (or a
/// manager's) PIN, in percent of the goods' price: per line and on the
/// whole sale. Managers and admins have no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct DiscountLimits {
    pub cashier_pct: u32,
    pub supervisor_pct: u32,
}

impl Default for DiscountLimits {
    fn default() -> Self {
        DiscountLimits {
            cashier_pct: 10,
            supervisor_pct: 50,
        }
    }
}

impl DiscountLimits {
    /// `role`'s limit, in basis points (hundredths of a percent).
    pub fn of(&self, role: Role) -> i64 {
        let pct = match role {
            Role::Cashier => self.cashier_pct,
            Role::Supervisor => self.supervisor_pct,
            Role::Manager | Role::Admin => 100,
        };
        i64::from(pct.min(100)) * 100
    }
}

/// A sale's largest discount in basis points of the goods' price: the
/// larger of its most discounted line (by the line's own discount) and the
/// whole sale's (every discount, the order's too). An order discount is
/// judged on the whole sale only: how its cents fall on the lines is no
/// one's choice.
pub fn discount_bp(lines: &[crate::order::PricedLine]) -> i64 {
    let share = |off: i64, of: i64| {
        if of <= 0 {
            0
        } else {
            ((off as i128 * 10_000 + of as i128 - 1) / of as i128) as i64
        }
    };
    let gross: i64 = lines.iter().map(|l| l.gross_minor).sum();
    let off: i64 = lines
        .iter()
        .map(|l| l.line_discount_minor + l.order_discount_minor)
        .sum();
    lines
        .iter()
        .map(|l| share(l.line_discount_minor, l.gross_minor))
        .chain(std::iter::once(share(off, gross)))
        .max()
        .unwrap_or(0)
}

/// How long a staff member is locked out on one device after `failures`
/// consecutive wrong PINs: nothing for the first 4, then 30 s doubling up to 1 h.
pub fn lockout_seconds(failures: i32) -> i64 {
    if failures < 5 {
        return 0;
    }
    let exp = (failures - 5).min(7) as u32;
    (30i64 << exp).min(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_discount_is_judged_on_the_whole_sale_and_a_line_discount_on_its_line() {
        use crate::order::PricedLine;
        let line = |gross, line_off, order_off| PricedLine {
            gross_minor: gross,
            line_discount_minor: line_off,
            order_discount_minor: order_off,
            net_minor: 0,
            tax_minor: 0,
            total_minor: 0,
            tax_ppm: 0,
        };
        // 10 % off 2.55 + 2.55, its odd cent on the first line: 10 %.
        assert_eq!(discount_bp(&[line(255, 0, 26), line(255, 0, 25)]), 1000);
        // A line's own discount counts on that line.
        assert_eq!(discount_bp(&[line(100, 20, 0), line(900, 0, 0)]), 2000);
        assert_eq!(discount_bp(&[line(100, 0, 0)]), 0);
        let limits = DiscountLimits::default();
        assert_eq!(limits.of(Role::Cashier), 1000);
        assert_eq!(limits.of(Role::Manager), 10_000);
    }

    #[test]
    fn a_cashier_sells_but_cannot_refund_void_or_manage() {
        assert!(Role::Cashier.allows(Permission::Sell));
        for p in [
            Permission::Refund,
            Permission::VoidLine,
            Permission::ManageStaff,
        ] {
            assert!(!Role::Cashier.allows(p));
        }
        assert!(Role::Supervisor.allows(Permission::Refund));
        assert!(!Role::Supervisor.allows(Permission::ManageProducts));
        assert!(Role::Manager.allows(Permission::ViewAudit));
        assert!(Role::Manager.allows(Permission::ManageDevices));
        assert!(!Role::Manager.allows(Permission::ManageSettings));
        assert!(Role::Admin.allows(Permission::Sell));
    }

    #[test]
    fn pins_are_four_to_eight_digits_and_never_printed() {
        assert!(Pin::parse("4721").is_ok());
        assert!(Pin::parse("48291735").is_ok());
        for bad in ["123", "123456789", "12a4", "", "4721 "] {
            assert_eq!(
                Pin::parse(bad).unwrap_err(),
                DomainError::InvalidPin,
                "{bad}"
            );
        }
        assert_eq!(format!("{:?}", Pin::parse("4829").unwrap()), "Pin(***)");
    }

    #[test]
    fn pins_guessed_first_are_refused() {
        for weak in [
            "1234", "0000", "1111", "9876", "4321", "7890", "8901", "1212", "123123", "12345678",
            "98765432", "2580", "121212", "00000000", "3210",
        ] {
            assert_eq!(
                Pin::parse(weak).unwrap_err(),
                DomainError::WeakPin,
                "{weak}"
            );
        }
        for fine in ["4821", "1357", "2468", "1122334", "482913", "13579"] {
            assert!(Pin::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn lockout_grows_and_is_capped() {
        assert_eq!(lockout_seconds(4), 0);
        assert_eq!(lockout_seconds(5), 30);
        assert_eq!(lockout_seconds(6), 60);
        assert_eq!(lockout_seconds(50), 3600);
    }
}
