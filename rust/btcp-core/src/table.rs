//! How full a node's flow table may get (one table each for front-end and
//! back-end flows), and what a new flow does when it is full.
//!
//! Only live flows count against the limit. A flow that is over and only
//! lingers (keeping its translation for stray and retransmitted segments)
//! is cheap and is reclaimed under pressure, oldest first, the way the
//! stack recycles TIME-WAIT sockets: a new flow that finds the table full
//! takes the slot of the flow that has lingered longest. A new flow is
//! refused only when every slot holds a live flow.

/// What a new flow may do, given the table's occupancy and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// There is room.
    Insert,
    /// The table is full, but not of live flows: free the flow that has
    /// lingered longest, then insert.
    ReclaimOldest,
    /// Every slot is live: refuse (and count it).
    Full,
}

/// The flows in one table, live and lingering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Occupancy {
    live: usize,
    lingering: usize,
}

impl Occupancy {
    /// What a new flow may do in a table of at most `max` flows.
    pub fn admit(&self, max: usize) -> Admit {
        if self.total() < max {
            Admit::Insert
        } else if self.live < max && self.lingering > 0 {
            Admit::ReclaimOldest
        } else {
            Admit::Full
        }
    }

    /// A live flow was inserted.
    pub fn inserted(&mut self) {
        self.live = self.live.saturating_add(1);
    }

    /// A live flow started to linger.
    pub fn started_lingering(&mut self) {
        self.live = self.live.saturating_sub(1);
        self.lingering = self.lingering.saturating_add(1);
    }

    /// A flow was removed; `lingering`: it had started to linger.
    pub fn removed(&mut self, lingering: bool) {
        match lingering {
            true => self.lingering = self.lingering.saturating_sub(1),
            false => self.live = self.live.saturating_sub(1),
        }
    }

    /// Flows that are not over.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Flows that are over and only linger.
    pub fn lingering(&self) -> usize {
        self.lingering
    }

    /// Every flow in the table.
    pub fn total(&self) -> usize {
        self.live.saturating_add(self.lingering)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lingering_flows_never_block_live_ones() {
        let mut o = Occupancy::default();
        assert_eq!(o.admit(2), Admit::Insert);
        o.inserted();
        o.inserted();
        assert_eq!(o.admit(2), Admit::Full);
        o.started_lingering();
        assert_eq!((o.live(), o.lingering(), o.total()), (1, 1, 2));
        assert_eq!(o.admit(2), Admit::ReclaimOldest);
        o.removed(true);
        assert_eq!(o.admit(2), Admit::Insert);
        o.inserted();
        o.started_lingering();
        o.started_lingering();
        assert_eq!(o.admit(2), Admit::ReclaimOldest);
        o.removed(true);
        o.removed(true);
        assert_eq!(o, Occupancy::default());
        assert_eq!(o.admit(0), Admit::Full);
    }
}
