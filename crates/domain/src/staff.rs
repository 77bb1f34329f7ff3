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

impl Pin {
    pub fn parse(s: &str) -> Result<Self> {
        if (4..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(s.to_owned()))
        } else {
            Err(DomainError::InvalidPin)
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
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
        assert!(Pin::parse("1234").is_ok());
        for bad in ["123", "123456789", "12a4", "", "1234 "] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{:?}", Pin::parse("9876").unwrap()), "Pin(***)");
    }

    #[test]
    fn lockout_grows_and_is_capped() {
        assert_eq!(lockout_seconds(4), 0);
        assert_eq!(lockout_seconds(5), 30);
        assert_eq!(lockout_seconds(6), 60);
        assert_eq!(lockout_seconds(50), 3600);
    }
}
