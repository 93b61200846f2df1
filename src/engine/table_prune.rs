//! File pruning from the catalog: the `ts` and `date` bounds implied by a query's filters are
//! compared with each file's min/max `ts` and day, so untouched files are never opened.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::model::timefmt::day_of_ms;
use crate::store::catalog::FileEntry;

/// Inclusive bounds (a superset of what the filters allow).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    ts_lo: i64,
    ts_hi: i64,
    day_lo: i32,
    day_hi: i32,
}

impl Bounds {
    /// Bounds implied by the conjunction of `filters`.
    pub fn from_filters(filters: &[Expr]) -> Self {
        let mut b = Bounds {
            ts_lo: i64::MIN,
            ts_hi: i64::MAX,
            day_lo: i32::MIN,
            day_hi: i32::MAX,
        };
        for f in filters {
            b.apply(f);
        }
        b
    }

    /// False only when the file cannot hold a matching row.
    pub fn may_contain(&self, f: &FileEntry) -> bool {
        f.max_ts >= self.ts_lo
            && f.min_ts <= self.ts_hi
            && f.day >= self.day_lo
            && f.day <= self.day_hi
    }

    fn apply(&mut self, e: &Expr) {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And => {
                    self.apply(left);
                    self.apply(right);
                }
                _ => {
                    if let (Some(c), Some(v)) = (column(left), literal(right)) {
                        self.bound(c, *op, v);
                    } else if let (Some(v), Some(c)) = (literal(left), column(right))
                        && let Some(op) = op.swap()
                    {
                        self.bound(c, op, v);
                    }
                }
            },
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => {
                if let (Some(c), Some(lo), Some(hi)) = (column(expr), literal(low), literal(high)) {
                    self.bound(c, Operator::GtEq, lo);
                    self.bound(c, Operator::LtEq, hi);
                }
            }
            _ => {}
        }
    }

    fn bound(&mut self, col: &str, op: Operator, v: Lit) {
        let (lo, hi) = match op {
            Operator::Gt | Operator::GtEq => (Some(v), None),
            Operator::Lt | Operator::LtEq => (None, Some(v)),
            Operator::Eq => (Some(v), Some(v)),
            _ => return,
        };
        match col {
            "ts" => {
                if let Some(Lit::Ms(x)) = lo {
                    self.ts_lo = self.ts_lo.max(x);
                }
                if let Some(Lit::Ms(x)) = hi {
                    self.ts_hi = self.ts_hi.min(x);
                }
            }
            "date" => {
                if let Some(Lit::Day(x)) = lo {
                    self.day_lo = self.day_lo.max(x);
                }
                if let Some(Lit::Day(x)) = hi {
                    self.day_hi = self.day_hi.min(x);
                }
            }
            _ => {}
        }
        // A ts bound also bounds the day.
        if col == "ts" {
            if let Some(Lit::Ms(x)) = lo {
                self.day_lo = self.day_lo.max(day_of_ms(x));
            }
            if let Some(Lit::Ms(x)) = hi {
                self.day_hi = self.day_hi.min(day_of_ms(x));
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Lit {
    Ms(i64),
    Day(i32),
}

fn column(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) if c.name == "ts" || c.name == "date" => Some(c.name.as_str()),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<Lit> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    Some(match v {
        ScalarValue::TimestampSecond(Some(x), _) => Lit::Ms(x.checked_mul(1000)?),
        ScalarValue::TimestampMillisecond(Some(x), _) => Lit::Ms(*x),
        // Rounding outward keeps the bound a superset.
        ScalarValue::TimestampMicrosecond(Some(x), _) => Lit::Ms(x.div_euclid(1000)),
        ScalarValue::TimestampNanosecond(Some(x), _) => Lit::Ms(x.div_euclid(1_000_000)),
        ScalarValue::Date32(Some(d)) => Lit::Day(*d),
        _ => return None,
    })
}
