//! The dependency graph of a deployment's resources (`dependsOn`, implicit dependencies on
//! parents and on referenced resources) and the schedule that walks it: everything whose
//! dependencies are done is ready at once, a failure skips everything downstream of it, and
//! a cycle is found before anything runs. Pure: no I/O, no clock.

use std::collections::BTreeSet;

/// Edges: `deps[n]` are the nodes `n` waits for.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    deps: Vec<BTreeSet<usize>>,
}

impl Graph {
    pub fn new(nodes: usize) -> Self {
        Graph {
            deps: vec![BTreeSet::new(); nodes],
        }
    }

    pub fn len(&self) -> usize {
        self.deps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// `node` waits for `dependency` (a self-dependency is ignored).
    pub fn depend(&mut self, node: usize, dependency: usize) {
        if node != dependency {
            self.deps[node].insert(dependency);
        }
    }

    pub fn dependencies(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        self.deps[node].iter().copied()
    }

    /// A dependency cycle, as the nodes along it (first node repeated at the end), if any.
    pub fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut mark = vec![Mark::New; self.len()];
        for start in 0..self.len() {
            if mark[start] != Mark::New {
                continue;
            }
            // Iterative DFS: (node, remaining dependencies) frames.
            let mut stack: Vec<(usize, Vec<usize>)> =
                vec![(start, self.dependencies(start).collect())];
            mark[start] = Mark::Open;
            while let Some((node, pending)) = stack.last_mut() {
                let node = *node;
                match pending.pop() {
                    None => {
                        mark[node] = Mark::Done;
                        stack.pop();
                    }
                    Some(next) => match mark[next] {
                        Mark::Done => {}
                        Mark::Open => {
                            let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                stack[from..].iter().map(|(n, _)| *n).collect();
                            cycle.push(next);
                            return Some(cycle);
                        }
                        Mark::New => {
                            mark[next] = Mark::Open;
                            stack.push((next, self.dependencies(next).collect()));
                        }
                    },
                }
            }
        }
        None
    }
}

/// Where a node is in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Running,
    Succeeded,
    Failed,
    /// Not run because something it depends on failed (or the run was stopped).
    Skipped,
}

/// One run over a graph.
#[derive(Debug, Clone)]
pub struct Schedule {
    graph: Graph,
    status: Vec<Status>,
}

impl Schedule {
    pub fn new(graph: Graph) -> Self {
        let n = graph.len();
        Schedule {
            graph,
            status: vec![Status::Waiting; n],
        }
    }

    pub fn status(&self, node: usize) -> Status {
        self.status[node]
    }

    /// Nodes whose dependencies all succeeded, now marked Running.
    pub fn take_ready(&mut self) -> Vec<usize> {
        let ready: Vec<usize> = (0..self.graph.len())
            .filter(|n| self.status[*n] == Status::Waiting)
            .filter(|n| {
                self.graph
                    .dependencies(*n)
                    .all(|d| self.status[d] == Status::Succeeded)
            })
            .collect();
        for n in &ready {
            self.status[*n] = Status::Running;
        }
        ready
    }

    pub fn succeed(&mut self, node: usize) {
        self.status[node] = Status::Succeeded;
    }

    /// Marks `node` failed and everything that (transitively) waits for it skipped.
    pub fn fail(&mut self, node: usize) {
        self.status[node] = Status::Failed;
        loop {
            let doomed: Vec<usize> = (0..self.graph.len())
                .filter(|n| self.status[*n] == Status::Waiting)
                .filter(|n| {
                    self.graph
                        .dependencies(*n)
                        .any(|d| matches!(self.status[d], Status::Failed | Status::Skipped))
                })
                .collect();
            if doomed.is_empty() {
                return;
            }
            for n in doomed {
                self.status[n] = Status::Skipped;
            }
        }
    }

    /// Stops the run: nothing that has not started will.
    pub fn stop(&mut self) {
        for s in &mut self.status {
            if *s == Status::Waiting {
                *s = Status::Skipped;
            }
        }
    }

    /// Whether nothing is waiting or running any more.
    pub fn finished(&self) -> bool {
        !self
            .status
            .iter()
            .any(|s| matches!(s, Status::Waiting | Status::Running))
    }

    pub fn all_succeeded(&self) -> bool {
        self.status.iter().all(|s| *s == Status::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> Graph {
        let mut g = Graph::new(n);
        for (a, b) in edges {
            g.depend(*a, *b);
        }
        g
    }

    #[test]
    fn independent_nodes_are_ready_together() {
        // 0 and 1 independent; 2 waits for both; 3 waits for 2.
        let mut s = Schedule::new(graph(4, &[(2, 0), (2, 1), (3, 2)]));
        assert_eq!(s.take_ready(), vec![0, 1]);
        assert!(s.take_ready().is_empty());
        s.succeed(0);
        assert!(s.take_ready().is_empty());
        s.succeed(1);
        assert_eq!(s.take_ready(), vec![2]);
        s.succeed(2);
        assert_eq!(s.take_ready(), vec![3]);
        assert!(!s.finished());
        s.succeed(3);
        assert!(s.finished());
        assert!(s.all_succeeded());
    }

    #[test]
    fn a_failure_skips_everything_downstream_only() {
        // 1 <- 0 <- 2 <- 3 ; 4 independent.
        let mut s = Schedule::new(graph(5, &[(0, 1), (2, 0), (3, 2)]));
        assert_eq!(s.take_ready(), vec![1, 4]);
        s.fail(1);
        assert_eq!(s.status(0), Status::Skipped);
        assert_eq!(s.status(3), Status::Skipped);
        assert_eq!(s.status(4), Status::Running);
        assert!(!s.finished());
        s.succeed(4);
        assert!(s.finished());
        assert!(!s.all_succeeded());
    }

    #[test]
    fn stop_skips_what_has_not_started() {
        let mut s = Schedule::new(graph(3, &[(1, 0)]));
        assert_eq!(s.take_ready(), vec![0, 2]);
        s.stop();
        assert_eq!(s.status(1), Status::Skipped);
        assert!(!s.finished());
        s.succeed(0);
        s.succeed(2);
        assert!(s.finished());
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        assert_eq!(graph(3, &[(1, 0), (2, 1)]).find_cycle(), None);
        let cycle = graph(4, &[(0, 1), (1, 2), (2, 0), (3, 0)])
            .find_cycle()
            .unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        let mut g = Graph::new(1);
        g.depend(0, 0);
        assert_eq!(g.find_cycle(), None, "self-dependencies are ignored");
        assert_eq!(graph(2, &[(0, 1), (1, 0)]).find_cycle().unwrap().len(), 3);
    }
}
