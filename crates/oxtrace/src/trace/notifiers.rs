//! Notifiers: callbacks fired on events, for one event type or all of them,
//! and the auto-continue list.
//!
//! A notifier may inspect and change the debuggee through the `&mut Trace` it
//! receives, and ask the trace to keep going with [`Trace::run_again`].

use std::collections::BTreeMap;

use super::Trace;
use crate::event::{Event, EventType};

/// A notifier callback.
pub type Notifier = Box<dyn FnMut(&mut Trace, &Event)>;

/// The id of a registered notifier, to deregister it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotifierId(u64);

/// Registered notifiers, in registration order; `None` means every event type.
#[derive(Default)]
pub(super) struct Notifiers {
    next: u64,
    list: BTreeMap<NotifierId, (Option<EventType>, Notifier)>,
    /// Ids deregistered while their table was lent out to a dispatch.
    dropped: Vec<NotifierId>,
}

impl Trace {
    /// Calls `notifier` on every event of type `event_type`.
    pub fn register_notifier(
        &mut self,
        event_type: EventType,
        notifier: impl FnMut(&mut Trace, &Event) + 'static,
    ) -> NotifierId {
        // A notifier for library events turns library tracking on (see `Trace::track_libraries`).
        if matches!(event_type, EventType::LibraryLoaded | EventType::LibraryUnloaded) && !self.is_running() {
            // Tracking cannot start on a process that is gone; there is nothing to report then anyway.
            let _ = self.track_libraries();
        }
        self.add_notifier(Some(event_type), Box::new(notifier))
    }

    /// Calls `notifier` on every event.
    pub fn register_notifier_all(&mut self, notifier: impl FnMut(&mut Trace, &Event) + 'static) -> NotifierId {
        self.add_notifier(None, Box::new(notifier))
    }

    fn add_notifier(&mut self, filter: Option<EventType>, notifier: Notifier) -> NotifierId {
        let id = NotifierId(self.notifiers.next);
        self.notifiers.next += 1;
        self.notifiers.list.insert(id, (filter, notifier));
        id
    }

    /// Removes a notifier. Returns whether it was registered.
    pub fn deregister_notifier(&mut self, id: NotifierId) -> bool {
        if id.0 >= self.notifiers.next {
            return false;
        }
        if self.notifiers.list.remove(&id).is_none() {
            // Possibly called from a notifier, while the table is lent out.
            self.notifiers.dropped.push(id);
        }
        true
    }

    /// Asks the trace to resume once the current event has been handled (from a notifier or breakpoint callback).
    pub fn run_again(&mut self) {
        self.run_again = true;
    }

    /// Events of this type no longer stop [`Trace::run`]: notifiers still see them.
    pub fn enable_auto_continue(&mut self, event_type: EventType) {
        self.auto_continue.insert(event_type);
    }

    /// Events of this type stop [`Trace::run`] again.
    pub fn disable_auto_continue(&mut self, event_type: EventType) {
        self.auto_continue.remove(&event_type);
    }

    /// The event types that do not stop [`Trace::run`] (by default: threads created and exited, libraries loaded and unloaded, forks).
    pub fn auto_continue_list(&self) -> Vec<EventType> {
        self.auto_continue.iter().copied().collect()
    }

    /// Fires the notifiers for `event`: those for every event first, then those for its type.
    pub(super) fn fire_notifiers(&mut self, event: &Event) {
        if self.notifiers.list.is_empty() {
            return;
        }
        let event_type = event.event_type();
        let mut list = std::mem::take(&mut self.notifiers.list);
        for pass_all in [true, false] {
            for (filter, notifier) in list.values_mut() {
                let wanted = if pass_all { filter.is_none() } else { *filter == Some(event_type) };
                if wanted {
                    notifier(self, event);
                }
            }
        }
        // Notifiers registered by a notifier were added to the emptied table: keep them too.
        list.append(&mut self.notifiers.list);
        for id in self.notifiers.dropped.drain(..) {
            list.remove(&id);
        }
        self.notifiers.list = list;
    }
}
