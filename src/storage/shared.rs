//! [`SharedSlice`]: a read-only window into a reference-counted buffer, the way a store hands out
//! samples without copying them.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// An immutable run of values shared with whoever else holds the same buffer (usually the
/// store): an `Arc` of the buffer plus an index range into it. Cloning one, or taking a
/// [`SharedSlice::slice`] of it, is a reference-count increment; it dereferences to `&[T]`.
///
/// The buffer never changes while a view of it exists: a writer that must modify a buffer
/// someone else still holds works on a copy (see [`crate::storage::MemStorage`]).
///
/// ```
/// use ferroprom::model::FPoint;
/// use ferroprom::storage::SharedSlice;
///
/// let all: SharedSlice<FPoint> = (0..4).map(|i| FPoint { t: i * 10, f: i as f64 }).collect();
/// let tail = all.slice(2..4);
/// assert_eq!(tail.len(), 2);
/// assert_eq!(tail[0], FPoint { t: 20, f: 2.0 });
/// assert!(SharedSlice::<FPoint>::default().is_empty());
/// ```
pub struct SharedSlice<T> {
    /// `None` for an empty view, which then needs no allocation.
    buf: Option<Arc<Vec<T>>>,
    start: usize,
    end: usize,
}

impl<T> SharedSlice<T> {
    /// A view of `buf[range]`; a range reaching beyond the buffer is cut to it.
    pub fn new(buf: Arc<Vec<T>>, range: Range<usize>) -> SharedSlice<T> {
        let end = range.end.min(buf.len());
        let start = range.start.min(end);
        if start == end {
            return SharedSlice::default();
        }
        SharedSlice { buf: Some(buf), start, end }
    }

    /// The view of `self[range]`, sharing the same buffer; a range reaching beyond the view is
    /// cut to it.
    pub fn slice(&self, range: Range<usize>) -> SharedSlice<T> {
        let end = self.start + range.end.min(self.end - self.start);
        let start = (self.start + range.start).min(end);
        match &self.buf {
            Some(buf) if start < end => SharedSlice { buf: Some(buf.clone()), start, end },
            _ => SharedSlice::default(),
        }
    }

    /// The position of the view's first value in its buffer (0 for an empty view).
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The values as a slice (what `Deref` gives).
    pub fn as_slice(&self) -> &[T] {
        match &self.buf {
            Some(buf) => buf.get(self.start..self.end).unwrap_or(&[]),
            None => &[],
        }
    }
}

impl<T> Default for SharedSlice<T> {
    fn default() -> SharedSlice<T> {
        SharedSlice { buf: None, start: 0, end: 0 }
    }
}

impl<T> Clone for SharedSlice<T> {
    fn clone(&self) -> SharedSlice<T> {
        SharedSlice { buf: self.buf.clone(), start: self.start, end: self.end }
    }
}

impl<T> Deref for SharedSlice<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> AsRef<[T]> for SharedSlice<T> {
    fn as_ref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> From<Vec<T>> for SharedSlice<T> {
    fn from(v: Vec<T>) -> SharedSlice<T> {
        let n = v.len();
        SharedSlice::new(Arc::new(v), 0..n)
    }
}

impl<T> FromIterator<T> for SharedSlice<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> SharedSlice<T> {
        SharedSlice::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<'a, T> IntoIterator for &'a SharedSlice<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<T: PartialEq> PartialEq for SharedSlice<T> {
    fn eq(&self, other: &SharedSlice<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq, const N: usize> PartialEq<[T; N]> for SharedSlice<T> {
    fn eq(&self, other: &[T; N]) -> bool {
        self.as_slice() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_share_and_cut() {
        let buf = Arc::new(vec![1, 2, 3, 4, 5]);
        let v = SharedSlice::new(buf.clone(), 1..4);
        assert_eq!(v, [2, 3, 4]);
        assert_eq!(Arc::strong_count(&buf), 2);
        assert_eq!(v.slice(1..10), [3, 4]);
        assert_eq!(v.slice(5..9), []);
        assert_eq!(SharedSlice::new(buf.clone(), 3..99), [4, 5]);
        assert_eq!(SharedSlice::new(buf, 7..9), []);
        let empty: SharedSlice<i32> = SharedSlice::default();
        assert!(empty.is_empty());
        assert_eq!(empty.slice(0..3), []);
    }
}
