//! The sample district-heating network of the demo, generated from the
//! seed: a heat plant, a trunk main, and districts of streets whose
//! consumers (houses, apartment blocks, shops and offices, schools and
//! halls) each have a service pipe and a design heat load.

use super::rng::Rng;
use super::sizing::{self, Segment, WATER_80C};

/// The districts, in the order the trunk reaches them.
const DISTRICT_NAMES: [&str; 12] = [
    "Station Quarter",
    "Old Town",
    "Millbrook",
    "Riverside",
    "Hillcrest",
    "Parkside",
    "Eastgate",
    "Brookfield",
    "Harbour",
    "Lindenhof",
    "Westend",
    "Northfield",
];

/// How many districts a network has.
const DISTRICTS: usize = 10;

/// What a consumer is, which sets the range of its design load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerKind {
    /// A garage, kiosk or small flat: below 0.1 m/s even in DN20.
    Small,
    House,
    Apartments,
    Commercial,
    Public,
}

impl ConsumerKind {
    /// The kind of a consumer and its design load, kW.
    fn draw(rng: &mut Rng) -> (ConsumerKind, f64) {
        let x = rng.unit();
        if x < 0.04 {
            (ConsumerKind::Small, rng.uniform(2.5, 5.0))
        } else if x < 0.57 {
            (ConsumerKind::House, rng.uniform(7.0, 16.0))
        } else if x < 0.85 {
            (ConsumerKind::Apartments, rng.uniform(25.0, 90.0))
        } else if x < 0.95 {
            (ConsumerKind::Commercial, rng.uniform(60.0, 250.0))
        } else {
            (ConsumerKind::Public, rng.uniform(150.0, 450.0))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Consumer {
    pub kind: ConsumerKind,
    /// Design heat load, kW.
    pub load_kw: f64,
}

/// What a pipe is in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeKind {
    /// From the plant along the trunk to the next district's branch.
    Trunk,
    /// From the trunk into a district.
    Feeder,
    /// Along a street, between two service connections.
    Street,
    /// From the street to one consumer.
    Service,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub kind: PipeKind,
    pub length_m: f64,
    /// The consumers it supplies (every consumer downstream).
    pub consumers: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct District {
    pub name: &'static str,
    /// Its feeder, streets and service pipes.
    pub pipes: Vec<usize>,
    pub consumers: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub consumers: Vec<Consumer>,
    pub pipes: Vec<Pipe>,
    pub districts: Vec<District>,
}

/// The share of the summed peak loads of `n` consumers that occurs at once
/// (simultaneity): 0.62 + 0.38 / n, a rule of thumb of Danish design
/// practice; 1 for a single consumer.
pub fn simultaneity(n: usize) -> f64 {
    if n <= 1 { 1.0 } else { 0.62 + 0.38 / n as f64 }
}

impl Network {
    /// The network of `seed`: 10 districts of 2 to 4 streets with 5 to 14
    /// consumers each, about 300 consumer connections in all.
    pub fn generate(seed: u64) -> Network {
        let mut rng = Rng::fork(seed, &[0x006e_6574_776f_726b]);
        let mut consumers = Vec::new();
        let mut pipes = Vec::new();
        let mut districts = Vec::new();
        for &name in DISTRICT_NAMES.iter().take(DISTRICTS) {
            let mut district = District {
                name,
                pipes: Vec::new(),
                consumers: Vec::new(),
            };
            let feeder = pipes.len();
            pipes.push(Pipe {
                kind: PipeKind::Feeder,
                length_m: rng.uniform(80.0, 350.0).round(),
                consumers: Vec::new(),
            });
            district.pipes.push(feeder);
            for _street in 0..2 + rng.below(3) {
                let on_street = 5 + rng.below(10);
                let street_pipes: Vec<usize> = (0..on_street)
                    .map(|_| {
                        pipes.push(Pipe {
                            kind: PipeKind::Street,
                            length_m: rng.uniform(12.0, 35.0).round(),
                            consumers: Vec::new(),
                        });
                        pipes.len() - 1
                    })
                    .collect();
                for (j, &street_pipe) in street_pipes.iter().enumerate() {
                    let (kind, load_kw) = ConsumerKind::draw(&mut rng);
                    let c = consumers.len();
                    consumers.push(Consumer {
                        kind,
                        load_kw: (load_kw * 10.0).round() / 10.0,
                    });
                    district.consumers.push(c);
                    pipes.push(Pipe {
                        kind: PipeKind::Service,
                        length_m: rng.uniform(8.0, 25.0).round(),
                        consumers: vec![c],
                    });
                    district.pipes.push(street_pipe);
                    district.pipes.push(pipes.len() - 1);
                    // A street pipe supplies its own consumer and every one
                    // further along the street.
                    for &earlier in &street_pipes[..=j] {
                        pipes[earlier].consumers.push(c);
                    }
                }
            }
            pipes[feeder].consumers = district.consumers.clone();
            districts.push(district);
        }
        // The trunk: from the plant to district 0's branch, then on to each
        // next one; segment k supplies districts k and after.
        for k in 0..districts.len() {
            let supplied: Vec<usize> = districts[k..]
                .iter()
                .flat_map(|d| d.consumers.iter().copied())
                .collect();
            pipes.push(Pipe {
                kind: PipeKind::Trunk,
                length_m: rng.uniform(150.0, 500.0).round(),
                consumers: supplied,
            });
        }
        Network {
            consumers,
            pipes,
            districts,
        }
    }

    /// The design loads, kW, by consumer.
    pub fn loads(&self) -> Vec<f64> {
        self.consumers.iter().map(|c| c.load_kw).collect()
    }

    pub fn total_load_kw(&self) -> f64 {
        self.consumers.iter().map(|c| c.load_kw).sum()
    }

    pub fn length_m(&self) -> f64 {
        self.pipes.iter().map(|p| p.length_m).sum()
    }

    /// The pipes `which` as segments to size: each with its design mass
    /// flow from the loads it supplies (`loads`, by consumer) times their
    /// simultaneity, at the design temperature difference.
    pub fn segments(&self, which: &[usize], loads: &[f64]) -> Vec<Segment> {
        which
            .iter()
            .map(|&i| {
                let pipe = &self.pipes[i];
                let summed: f64 = pipe.consumers.iter().map(|&c| loads[c]).sum();
                let design_kw = summed * simultaneity(pipe.consumers.len());
                Segment {
                    length_m: pipe.length_m,
                    mass_flow_kg_s: sizing::mass_flow_kg_s(
                        design_kw,
                        sizing::DELTA_T_K,
                        &WATER_80C,
                    ),
                }
            })
            .collect()
    }

    /// Every pipe of the network.
    pub fn all_pipes(&self) -> Vec<usize> {
        (0..self.pipes.len()).collect()
    }

    /// The first trunk pipe, from the plant: it carries everything.
    pub fn plant_pipe(&self) -> usize {
        self.pipes
            .iter()
            .position(|p| p.kind == PipeKind::Trunk)
            .expect("a network has a trunk")
    }

    /// How many consumers of `kind` there are.
    pub fn count(&self, kind: ConsumerKind) -> usize {
        self.consumers.iter().filter(|c| c.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_has_a_few_hundred_consumers_each_supplied_by_a_path_of_pipes() {
        let net = Network::generate(2026);
        assert_eq!(net.consumers.len(), Network::generate(2026).consumers.len());
        assert!(
            (150..=450).contains(&net.consumers.len()),
            "{} consumers",
            net.consumers.len()
        );
        assert_eq!(net.districts.len(), DISTRICTS);
        // Every consumer has one service pipe, a feeder and the first trunk
        // segment on its way.
        for c in 0..net.consumers.len() {
            let kinds: Vec<PipeKind> = net
                .pipes
                .iter()
                .filter(|p| p.consumers.contains(&c))
                .map(|p| p.kind)
                .collect();
            assert_eq!(kinds.iter().filter(|k| **k == PipeKind::Service).count(), 1);
            assert_eq!(kinds.iter().filter(|k| **k == PipeKind::Feeder).count(), 1);
            assert!(kinds.contains(&PipeKind::Street));
            assert!(kinds.contains(&PipeKind::Trunk));
        }
        // The first trunk segment carries everything.
        let trunk = net
            .pipes
            .iter()
            .find(|p| p.kind == PipeKind::Trunk)
            .unwrap();
        assert_eq!(trunk.consumers.len(), net.consumers.len());
        assert!(net.total_load_kw() > 1000.0);
    }

    #[test]
    fn design_flows_follow_the_loads_and_their_simultaneity() {
        assert_eq!(simultaneity(1), 1.0);
        assert!((simultaneity(2) - 0.81).abs() < 1e-12);
        assert!((simultaneity(100) - 0.6238).abs() < 1e-12);
        let net = Network::generate(7);
        let loads = net.loads();
        let service = net
            .pipes
            .iter()
            .position(|p| p.kind == PipeKind::Service)
            .unwrap();
        let c = net.pipes[service].consumers[0];
        let s = net.segments(&[service], &loads)[0];
        // ṁ = Q / (c_p ΔT) for the consumer's own load.
        let expected = loads[c] * 1000.0 / (4196.0 * 30.0);
        assert!((s.mass_flow_kg_s - expected).abs() < 1e-12);
    }
}
