//! [`BatchDeliveries`]: what became of each record of one `send_batch`.

use kafkite::producer::{Delivery, ProduceError};

/// Stands in, in `deliveries`, for a record that failed (or has no
/// outcome yet).
pub(crate) const NOT_DELIVERED: Delivery = Delivery {
    partition: -1,
    offset: -1,
    timestamp: -1,
};

/// The outcome of each record of one
/// [`Producer::send_batch`](crate::Producer::send_batch), in the order the
/// records were given: where it landed, or why it did not.
///
/// Compact on purpose: a batch of small records has an outcome per record,
/// made on the event loop and read on the sender's thread. A delivery is 24
/// bytes; the few errors are kept on the side, by index, rather than making
/// every outcome a `Result` as large as the largest error (48 bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchDeliveries {
    /// Per record; a failed record's entry is `NOT_DELIVERED`.
    deliveries: Vec<Delivery>,
    /// The failed records by index, in increasing index order.
    failures: Vec<(usize, ProduceError)>,
}

impl BatchDeliveries {
    /// `failures` may come in any order; an index out of range is dropped.
    pub(crate) fn new(
        mut deliveries: Vec<Delivery>,
        mut failures: Vec<(usize, ProduceError)>,
    ) -> Self {
        failures.retain(|(index, _)| *index < deliveries.len());
        failures.sort_by_key(|(index, _)| *index);
        failures.dedup_by_key(|(index, _)| *index);
        for (index, _) in &failures {
            deliveries[*index] = NOT_DELIVERED;
        }
        BatchDeliveries {
            deliveries,
            failures,
        }
    }

    /// `count` records that all failed with `error`.
    pub(crate) fn all_failed(count: usize, error: ProduceError) -> Self {
        BatchDeliveries {
            deliveries: vec![NOT_DELIVERED; count],
            failures: (0..count).map(|i| (i, error.clone())).collect(),
        }
    }

    /// How many records the batch had.
    pub fn len(&self) -> usize {
        self.deliveries.len()
    }

    /// True when the batch had no records.
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// True when every record was acknowledged.
    pub fn is_all_delivered(&self) -> bool {
        self.failures.is_empty()
    }

    /// The records that failed, by index in the batch, in index order.
    pub fn failures(&self) -> &[(usize, ProduceError)] {
        &self.failures
    }

    /// The outcome of the record at `index`.
    pub fn get(&self, index: usize) -> Option<Result<Delivery, &ProduceError>> {
        let delivery = *self.deliveries.get(index)?;
        match self.failures.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => Some(Err(&self.failures[at].1)),
            Err(_) => Some(Ok(delivery)),
        }
    }

    /// Each record's outcome, in the order the records were given.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            batch: self,
            next: 0,
            next_failure: 0,
        }
    }

    /// One owned `Result` per record, in order.
    pub fn into_results(self) -> Vec<Result<Delivery, ProduceError>> {
        let mut results: Vec<_> = self.deliveries.into_iter().map(Ok).collect();
        for (index, error) in self.failures {
            results[index] = Err(error);
        }
        results
    }
}

impl<'a> IntoIterator for &'a BatchDeliveries {
    type Item = Result<Delivery, &'a ProduceError>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The outcomes of a [`BatchDeliveries`], in record order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    batch: &'a BatchDeliveries,
    next: usize,
    /// The first failure at or after `next`.
    next_failure: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Delivery, &'a ProduceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let delivery = *self.batch.deliveries.get(self.next)?;
        let index = self.next;
        self.next += 1;
        match self.batch.failures.get(self.next_failure) {
            Some((failed, error)) if *failed == index => {
                self.next_failure += 1;
                Some(Err(error))
            }
            _ => Some(Ok(delivery)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batch.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Delivery {
        Delivery {
            partition: 1,
            offset,
            timestamp: 1_000 + offset,
        }
    }

    #[test]
    fn failures_take_their_places_in_record_order() {
        let batch = BatchDeliveries::new(
            (0..5).map(at).collect(),
            vec![
                (3, ProduceError::Closed),
                (0, ProduceError::QueueFull { limit: 7 }),
            ],
        );
        assert_eq!(batch.len(), 5);
        assert!(!batch.is_all_delivered());
        let seen: Vec<_> = batch.iter().collect();
        assert_eq!(
            seen,
            vec![
                Err(&ProduceError::QueueFull { limit: 7 }),
                Ok(at(1)),
                Ok(at(2)),
                Err(&ProduceError::Closed),
                Ok(at(4)),
            ]
        );
        for (i, outcome) in seen.iter().enumerate() {
            assert_eq!(batch.get(i).as_ref(), Some(outcome), "#{i}");
        }
        assert_eq!(batch.get(5), None);
        assert_eq!(batch.iter().len(), 5);
        let owned = batch.clone().into_results();
        assert_eq!(owned[0], Err(ProduceError::QueueFull { limit: 7 }));
        assert_eq!(owned[3], Err(ProduceError::Closed));
        assert_eq!(owned[4], Ok(at(4)));
        assert_eq!(
            batch.failures().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 3]
        );
    }

    #[test]
    fn an_index_out_of_range_or_repeated_counts_once_or_not_at_all() {
        let batch = BatchDeliveries::new(
            (0..2).map(at).collect(),
            vec![
                (1, ProduceError::Closed),
                (9, ProduceError::Closed),
                (1, ProduceError::Closed),
            ],
        );
        assert_eq!(batch.failures().len(), 1);
        assert_eq!(batch.iter().filter(Result::is_err).count(), 1);
    }

    #[test]
    fn all_failed_fails_every_record() {
        let batch = BatchDeliveries::all_failed(3, ProduceError::Closed);
        assert_eq!(batch.len(), 3);
        assert!(batch
            .iter()
            .all(|outcome| outcome == Err(&ProduceError::Closed)));
        assert!(BatchDeliveries::all_failed(0, ProduceError::Closed).is_all_delivered());
    }
}
