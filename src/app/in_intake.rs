//! The objects (see [`crate::event::Event::object_key`]) whose events intake holds between
//! parsing and their commit, with how many of each. An event compared with its object's earlier
//! events is compared at intake only when no other event of its object is in there: one that is
//! may be earlier and not stored yet, so the router compares it instead, once everything before
//! it is stored. This holds within one relay; relays sharing a database do not see each
//! other's intake (see the README).

use std::collections::HashMap;
use std::sync::Mutex;

/// The objects in intake.
#[derive(Debug, Default)]
pub struct InIntake {
    objects: Mutex<HashMap<String, usize>>,
}

/// One event's place in intake, given back when dropped.
#[derive(Debug)]
pub struct Entered<'a> {
    set: &'a InIntake,
    object: Option<String>,
    /// Other events of the same object in intake when this one entered.
    others: usize,
}

impl InIntake {
    /// Enters an event about `object` (none: about no object).
    pub fn enter(&self, object: Option<String>) -> Entered<'_> {
        let others = match &object {
            Some(key) => {
                let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
                let count = objects.entry(key.clone()).or_insert(0);
                *count += 1;
                *count - 1
            }
            None => 0,
        };
        Entered {
            set: self,
            object,
            others,
        }
    }
}

impl Entered<'_> {
    /// Whether another event of the same object was in intake when this one entered.
    pub fn has_company(&self) -> bool {
        self.others > 0
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let Some(key) = &self.object else { return };
        let mut objects = self.set.objects.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = objects.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                objects.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_has_company_while_another_of_its_object_is_in_intake() {
        let set = InIntake::default();
        let first = set.enter(Some("corrective-action:7".into()));
        assert!(!first.has_company());
        let other_object = set.enter(Some("audit:7".into()));
        assert!(!other_object.has_company());
        let second = set.enter(Some("corrective-action:7".into()));
        assert!(second.has_company());
        drop(first);
        drop(second);
        let third = set.enter(Some("corrective-action:7".into()));
        assert!(!third.has_company(), "both earlier ones left");
        let no_object = set.enter(None);
        assert!(!no_object.has_company());
        drop(third);
        drop(other_object);
        assert!(set.objects.lock().unwrap().is_empty(), "nothing is kept");
    }
}
