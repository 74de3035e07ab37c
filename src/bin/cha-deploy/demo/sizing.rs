//! Pipe sizing for district-heating networks: pure functions, no I/O.
//!
//! The design mass flow of a pipe comes from the heat load it carries and
//! the temperature difference between supply and return; its velocity from
//! the inner diameter; its pressure drop per metre from Darcy–Weisbach with
//! the friction factor of Colebrook–White (implicit, iterated) or
//! Swamee–Jain (its explicit approximation, within 1–2% of it).
//!
//! Two ways of choosing a diameter are compared, as the A/B test
//! `pipe_sizing_comparison` does:
//!
//! - **fixed**: one nominal diameter everywhere (traditionally DN100), then a
//!   verification of every pipe with Colebrook–White;
//! - **flow-based**: for each pipe the smallest size of the standard DN
//!   series whose velocity stays at or below the maximum (2.0 m/s), the
//!   diameter found from the flow directly and its pressure drop with
//!   Swamee–Jain. A pipe whose velocity stays below the minimum (0.1 m/s)
//!   even in the smallest size is reported as outside the limits.
//!
//! Each sizing also counts its work (friction-factor evaluations,
//! Colebrook–White iterations, comparisons), from which the demo derives
//! the time a sizing tool would take.

/// The properties of the water in the pipes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Water {
    /// Density, kg/m³.
    pub density: f64,
    /// Dynamic viscosity, Pa·s.
    pub viscosity: f64,
    /// Specific heat capacity, J/(kg·K).
    pub heat_capacity: f64,
}

/// Water at about 80 °C, the supply temperature of `ab_tests.yml`'s flow
/// calculation (IAPWS values: density 971.8 kg/m³, dynamic viscosity
/// 0.355 mPa·s; heat capacity 4196 J/(kg·K), about its value between 50 and
/// 80 °C).
pub const WATER_80C: Water = Water {
    density: 971.8,
    viscosity: 3.55e-4,
    heat_capacity: 4196.0,
};

/// Supply minus return temperature, K (80 °C / 50 °C).
pub const DELTA_T_K: f64 = 30.0;

/// The absolute roughness of steel service pipes, m (0.05 mm, a usual
/// design value for new welded steel pipes).
pub const ROUGHNESS_M: f64 = 0.05e-3;

/// Below this Reynolds number the flow is laminar: f = 64 / Re.
const LAMINAR_RE: f64 = 2300.0;

/// One size of the standard series of pre-insulated steel service pipes
/// (EN 253): nominal diameter, outer diameter and minimum wall thickness;
/// and an indicative cost of laying it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipeSize {
    /// DN, the nominal diameter.
    pub dn: u16,
    /// Outer diameter of the steel pipe, mm.
    pub outer_mm: f64,
    /// Wall thickness, mm.
    pub wall_mm: f64,
    /// Cost per metre of trench with a supply and a return pipe, EUR:
    /// indicative planning figures of the order published for urban
    /// district-heating construction, not a quotation.
    pub cost_eur_per_m: f64,
}

impl PipeSize {
    /// The inner diameter, m: outer − 2 × wall.
    pub fn inner_m(&self) -> f64 {
        (self.outer_mm - 2.0 * self.wall_mm) / 1000.0
    }

    /// The flow cross-section, m²: π d² / 4.
    pub fn area_m2(&self) -> f64 {
        let d = self.inner_m();
        std::f64::consts::PI * d * d / 4.0
    }
}

/// The DN series, smallest first: outer diameters and minimum wall
/// thicknesses of steel service pipes of pre-insulated bonded pipes by
/// EN 253 (the series of EN 10220), so inner diameters DN20 21.7 mm, DN25
/// 28.5 mm, DN32 37.2 mm, DN40 43.1 mm, DN50 54.5 mm, DN65 70.3 mm, DN80
/// 82.5 mm, DN100 107.1 mm, DN125 132.5 mm, DN150 160.3 mm, DN200 210.1 mm,
/// DN250 263.0 mm, DN300 312.7 mm.
pub const DN_SERIES: [PipeSize; 13] = [
    size(20, 26.9, 2.6, 420.0),
    size(25, 33.7, 2.6, 440.0),
    size(32, 42.4, 2.6, 470.0),
    size(40, 48.3, 2.6, 500.0),
    size(50, 60.3, 2.9, 540.0),
    size(65, 76.1, 2.9, 610.0),
    size(80, 88.9, 3.2, 680.0),
    size(100, 114.3, 3.6, 790.0),
    size(125, 139.7, 3.6, 900.0),
    size(150, 168.3, 4.0, 1020.0),
    size(200, 219.1, 4.5, 1280.0),
    size(250, 273.0, 5.0, 1550.0),
    size(300, 323.9, 5.6, 1830.0),
];

const fn size(dn: u16, outer_mm: f64, wall_mm: f64, cost_eur_per_m: f64) -> PipeSize {
    PipeSize {
        dn,
        outer_mm,
        wall_mm,
        cost_eur_per_m,
    }
}

/// The size of nominal diameter `dn`, if the series has it.
pub fn dn(dn: u16) -> Option<&'static PipeSize> {
    DN_SERIES.iter().find(|s| s.dn == dn)
}

/// The design mass flow, kg/s, that carries `load_kw` at a temperature
/// difference of `delta_t_k`: ṁ = Q / (c_p ΔT).
pub fn mass_flow_kg_s(load_kw: f64, delta_t_k: f64, water: &Water) -> f64 {
    load_kw * 1000.0 / (water.heat_capacity * delta_t_k)
}

/// The mean velocity, m/s, of `mass_flow` kg/s in `pipe`: v = ṁ / (ρ A).
pub fn velocity_m_s(mass_flow: f64, pipe: &PipeSize, water: &Water) -> f64 {
    mass_flow / (water.density * pipe.area_m2())
}

/// The Reynolds number: Re = ρ v d / μ.
pub fn reynolds(velocity: f64, inner_m: f64, water: &Water) -> f64 {
    water.density * velocity * inner_m / water.viscosity
}

/// The Darcy friction factor by Swamee–Jain (1976), explicit:
/// f = 0.25 / [log10(ε/(3.7 d) + 5.74 / Re^0.9)]²; 64 / Re when laminar.
pub fn swamee_jain(re: f64, relative_roughness: f64) -> f64 {
    if re < LAMINAR_RE {
        return 64.0 / re.max(1e-9);
    }
    let l = (relative_roughness / 3.7 + 5.74 / re.powf(0.9)).log10();
    0.25 / (l * l)
}

/// A friction factor and the iterations it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrictionFactor {
    pub f: f64,
    pub iterations: u32,
}

/// The Darcy friction factor by Colebrook–White,
/// 1/√f = −2 log10(ε/(3.7 d) + 2.51 / (Re √f)), solved by fixed-point
/// iteration on 1/√f from `f = 0.02` until `f` changes by less than
/// `tolerance` (relative); 64 / Re when laminar (no iteration).
pub fn colebrook_white(re: f64, relative_roughness: f64, tolerance: f64) -> FrictionFactor {
    if re < LAMINAR_RE {
        return FrictionFactor {
            f: 64.0 / re.max(1e-9),
            iterations: 0,
        };
    }
    let mut f: f64 = 0.02;
    let mut iterations = 0;
    // It converges in a handful of steps; the bound only guards odd input.
    while iterations < 100 {
        iterations += 1;
        let x = -2.0 * (relative_roughness / 3.7 + 2.51 / (re * f.sqrt())).log10();
        let next = 1.0 / (x * x);
        let change = ((next - f) / next).abs();
        f = next;
        if change < tolerance {
            break;
        }
    }
    FrictionFactor { f, iterations }
}

/// The pressure drop per metre, Pa/m, by Darcy–Weisbach:
/// Δp/L = f / d · ρ v² / 2.
pub fn pressure_drop_pa_per_m(f: f64, velocity: f64, inner_m: f64, water: &Water) -> f64 {
    f / inner_m * water.density * velocity * velocity / 2.0
}

/// How the friction factor is found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Friction {
    SwameeJain,
    ColebrookWhite { tolerance: f64 },
}

/// The hydraulics of one pipe at its design flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hydraulics {
    pub velocity_m_s: f64,
    pub reynolds: f64,
    pub friction_factor: f64,
    pub pa_per_m: f64,
    /// Colebrook–White iterations (0 for Swamee–Jain).
    pub iterations: u32,
}

/// The hydraulics of `mass_flow` kg/s in `pipe`.
pub fn hydraulics(
    mass_flow: f64,
    pipe: &PipeSize,
    water: &Water,
    friction: Friction,
) -> Hydraulics {
    let d = pipe.inner_m();
    let v = velocity_m_s(mass_flow, pipe, water);
    let re = reynolds(v, d, water);
    let roughness = ROUGHNESS_M / d;
    let ff = match friction {
        Friction::SwameeJain => FrictionFactor {
            f: swamee_jain(re, roughness),
            iterations: 0,
        },
        Friction::ColebrookWhite { tolerance } => colebrook_white(re, roughness, tolerance),
    };
    Hydraulics {
        velocity_m_s: v,
        reynolds: re,
        friction_factor: ff.f,
        pa_per_m: pressure_drop_pa_per_m(ff.f, v, d, water),
        iterations: ff.iterations,
    }
}

/// The velocities a sized pipe should keep to, m/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VelocityLimits {
    pub min_m_s: f64,
    pub max_m_s: f64,
}

impl VelocityLimits {
    pub fn contains(&self, v: f64) -> bool {
        (self.min_m_s..=self.max_m_s).contains(&v)
    }
}

/// How the flow-based sizing searches the series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// The smallest diameter the maximum velocity allows,
    /// d = √(4 ṁ / (π ρ v_max)), found in the series by bisection; its
    /// pressure drop with Swamee–Jain.
    Direct,
    /// Every size of the series evaluated with Colebrook–White to 1e-12,
    /// then the smallest admissible one taken: the same choice at many
    /// times the work (the slow path of a faulty release in the demo).
    FullScan,
}

/// A way of sizing every pipe of a network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// One size everywhere, verified with Colebrook–White to 1e-6.
    Fixed(&'static PipeSize),
    /// The smallest size within the maximum velocity.
    FlowBased {
        max_velocity_m_s: f64,
        search: Search,
    },
}

/// A pipe to size: its length and design mass flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub length_m: f64,
    pub mass_flow_kg_s: f64,
}

/// The work a sizing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Friction factors computed (either formula).
    pub friction_evaluations: u64,
    /// Those computed by the explicit formula (Swamee–Jain).
    pub explicit_evaluations: u64,
    /// Colebrook–White iterations of the others.
    pub colebrook_iterations: u64,
    /// Diameter comparisons of the search.
    pub comparisons: u64,
}

/// One sized pipe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizedPipe {
    pub size: &'static PipeSize,
    pub hydraulics: Hydraulics,
}

/// A sized network: every pipe, and the figures the A/B test compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    pub pipes: Vec<SizedPipe>,
    /// Length of trench, m.
    pub length_m: f64,
    /// Cost of the pipes, EUR.
    pub cost_eur: f64,
    /// Pipes whose velocity is outside the limits checked against.
    pub outside_limits: usize,
    pub max_velocity_m_s: f64,
    /// The length-weighted mean pressure drop, Pa/m.
    pub mean_pa_per_m: f64,
    pub max_pa_per_m: f64,
    pub work: Work,
}

/// Sizes `segments` by `method`, and checks every velocity against
/// `limits` (the same yardstick for every method).
pub fn size_network(
    segments: &[Segment],
    method: Method,
    limits: VelocityLimits,
    water: &Water,
) -> Sizing {
    let mut work = Work::default();
    let pipes: Vec<SizedPipe> = segments
        .iter()
        .map(|s| size_pipe(s.mass_flow_kg_s, method, water, &mut work))
        .collect();
    let length_m: f64 = segments.iter().map(|s| s.length_m).sum();
    let cost_eur = segments
        .iter()
        .zip(&pipes)
        .map(|(s, p)| s.length_m * p.size.cost_eur_per_m)
        .sum();
    let weighted: f64 = segments
        .iter()
        .zip(&pipes)
        .map(|(s, p)| s.length_m * p.hydraulics.pa_per_m)
        .sum();
    Sizing {
        length_m,
        cost_eur,
        outside_limits: pipes
            .iter()
            .filter(|p| !limits.contains(p.hydraulics.velocity_m_s))
            .count(),
        max_velocity_m_s: pipes
            .iter()
            .map(|p| p.hydraulics.velocity_m_s)
            .fold(0.0, f64::max),
        mean_pa_per_m: if length_m > 0.0 {
            weighted / length_m
        } else {
            0.0
        },
        max_pa_per_m: pipes
            .iter()
            .map(|p| p.hydraulics.pa_per_m)
            .fold(0.0, f64::max),
        pipes,
        work,
    }
}

/// Sizes one pipe carrying `mass_flow` kg/s, adding to `work`.
pub fn size_pipe(mass_flow: f64, method: Method, water: &Water, work: &mut Work) -> SizedPipe {
    match method {
        Method::Fixed(size) => {
            let h = hydraulics(
                mass_flow,
                size,
                water,
                Friction::ColebrookWhite { tolerance: 1e-6 },
            );
            work.friction_evaluations += 1;
            work.colebrook_iterations += u64::from(h.iterations);
            SizedPipe {
                size,
                hydraulics: h,
            }
        }
        Method::FlowBased {
            max_velocity_m_s,
            search: Search::Direct,
        } => {
            // The diameter at exactly the maximum velocity.
            let d_min = (4.0 * mass_flow
                / (std::f64::consts::PI * water.density * max_velocity_m_s))
                .sqrt();
            // The first size at least that wide, by bisection.
            let (mut lo, mut hi) = (0, DN_SERIES.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                work.comparisons += 1;
                if DN_SERIES[mid].inner_m() < d_min {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            // Beyond the series: the largest size, over the limit.
            let size = &DN_SERIES[lo.min(DN_SERIES.len() - 1)];
            work.friction_evaluations += 1;
            work.explicit_evaluations += 1;
            SizedPipe {
                size,
                hydraulics: hydraulics(mass_flow, size, water, Friction::SwameeJain),
            }
        }
        Method::FlowBased {
            max_velocity_m_s,
            search: Search::FullScan,
        } => {
            let mut chosen: Option<SizedPipe> = None;
            for size in &DN_SERIES {
                let h = hydraulics(
                    mass_flow,
                    size,
                    water,
                    Friction::ColebrookWhite { tolerance: 1e-12 },
                );
                work.friction_evaluations += 1;
                work.colebrook_iterations += u64::from(h.iterations);
                work.comparisons += 1;
                if chosen.is_none() && h.velocity_m_s <= max_velocity_m_s {
                    chosen = Some(SizedPipe {
                        size,
                        hydraulics: h,
                    });
                }
            }
            chosen.unwrap_or_else(|| {
                let size = &DN_SERIES[DN_SERIES.len() - 1];
                work.friction_evaluations += 1;
                work.explicit_evaluations += 1;
                SizedPipe {
                    size,
                    hydraulics: hydraulics(mass_flow, size, water, Friction::SwameeJain),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    //! The hand computations: water at 80 °C (ρ = 971.8 kg/m³,
    //! μ = 3.55e-4 Pa·s, c_p = 4196 J/(kg·K)), ΔT = 30 K, roughness
    //! ε = 0.05 mm, inner diameters of EN 253 steel service pipes
    //! (outer − 2 × wall: DN20 26.9 − 2 × 2.6 = 21.7 mm, DN50 60.3 − 2 × 2.9
    //! = 54.5 mm, DN100 114.3 − 2 × 3.6 = 107.1 mm, DN125 139.7 − 2 × 3.6 =
    //! 132.5 mm, DN150 168.3 − 2 × 4.0 = 160.3 mm).

    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        ((actual - expected) / expected).abs() <= relative
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, relative: f64) {
        assert!(
            close(actual, expected, relative),
            "{actual} is not within {relative} of {expected}"
        );
    }

    #[test]
    fn inner_diameters_are_those_of_en_253() {
        let inner: Vec<(u16, f64)> = DN_SERIES
            .iter()
            .map(|s| (s.dn, (s.inner_m() * 10_000.0).round() / 10.0))
            .collect();
        assert_eq!(
            inner,
            [
                (20, 21.7),
                (25, 28.5),
                (32, 37.2),
                (40, 43.1),
                (50, 54.5),
                (65, 70.3),
                (80, 82.5),
                (100, 107.1),
                (125, 132.5),
                (150, 160.3),
                (200, 210.1),
                (250, 263.0),
                (300, 312.7),
            ]
        );
        assert!(
            DN_SERIES
                .windows(2)
                .all(|w| w[0].inner_m() < w[1].inner_m())
        );
        assert!(
            DN_SERIES
                .windows(2)
                .all(|w| w[0].cost_eur_per_m < w[1].cost_eur_per_m)
        );
    }

    /// A 500 kW branch in DN100.
    ///
    /// ṁ = 500 000 W / (4196 J/(kg·K) × 30 K) = 3.97204 kg/s
    /// A = π × 0.1071² / 4 = 9.00884e-3 m²
    /// v = 3.97204 / (971.8 × 9.00884e-3) = 0.45370 m/s
    /// Re = 971.8 × 0.45370 × 0.1071 / 3.55e-4 = 133 017 (turbulent)
    /// ε/d = 0.05 / 107.1 = 4.6685e-4
    /// Swamee–Jain: Re^0.9 = 40 880, 5.74 / 40 880 = 1.4041e-4;
    ///   ε/(3.7 d) = 1.2618e-4; log10(2.6659e-4) = −3.57416;
    ///   f = 0.25 / 3.57416² = 0.019570
    /// Δp/L = 0.019570 / 0.1071 × 971.8 × 0.45370² / 2 = 18.28 Pa/m
    /// (Colebrook–White: f = 0.019477, Δp/L = 18.19 Pa/m)
    #[test]
    fn a_500_kw_branch_in_dn100() {
        let m = mass_flow_kg_s(500.0, DELTA_T_K, &WATER_80C);
        assert_close(m, 3.97204, 1e-5);
        let pipe = dn(100).unwrap();
        assert_close(pipe.area_m2(), 9.00884e-3, 1e-5);
        let sj = hydraulics(m, pipe, &WATER_80C, Friction::SwameeJain);
        assert_close(sj.velocity_m_s, 0.45370, 1e-4);
        assert_close(sj.reynolds, 133_017.0, 1e-4);
        assert_close(sj.friction_factor, 0.019570, 1e-3);
        assert_close(sj.pa_per_m, 18.28, 1e-3);
        let cw = hydraulics(
            m,
            pipe,
            &WATER_80C,
            Friction::ColebrookWhite { tolerance: 1e-10 },
        );
        assert_close(cw.friction_factor, 0.019477, 1e-3);
        assert_close(cw.pa_per_m, 18.19, 1e-3);
        // Swamee–Jain is within 1% of Colebrook–White here.
        assert!(close(sj.friction_factor, cw.friction_factor, 0.01));
    }

    /// A 12 kW house on a DN20 service pipe, and on DN100.
    ///
    /// ṁ = 12 000 / (4196 × 30) = 0.095329 kg/s
    /// DN20: A = π × 0.0217² / 4 = 3.69836e-4 m²; v = 0.095329 / (971.8 ×
    ///   3.69836e-4) = 0.26524 m/s (within 0.1–2.0); Re = 971.8 × 0.26524 ×
    ///   0.0217 / 3.55e-4 = 15 756; ε/d = 2.3041e-3; Swamee–Jain f = 0.031860;
    ///   Δp/L = 0.031860 / 0.0217 × 971.8 × 0.26524² / 2 = 50.19 Pa/m
    /// DN100: v = 0.095329 / (971.8 × 9.00884e-3) = 0.010889 m/s, far below
    ///   0.1 m/s: the fixed DN100 is oversized; Re = 3192 (just turbulent),
    ///   Δp/L = 0.024 Pa/m
    #[test]
    fn a_12_kw_house_in_dn20_and_in_dn100() {
        let m = mass_flow_kg_s(12.0, DELTA_T_K, &WATER_80C);
        assert_close(m, 0.095329, 1e-4);
        let dn20 = hydraulics(m, dn(20).unwrap(), &WATER_80C, Friction::SwameeJain);
        assert_close(dn20.velocity_m_s, 0.26524, 1e-4);
        assert_close(dn20.reynolds, 15_756.0, 1e-4);
        assert_close(dn20.friction_factor, 0.031860, 1e-3);
        assert_close(dn20.pa_per_m, 50.19, 1e-3);
        let dn100 = hydraulics(m, dn(100).unwrap(), &WATER_80C, Friction::SwameeJain);
        assert_close(dn100.velocity_m_s, 0.010889, 1e-3);
        assert_close(dn100.pa_per_m, 0.024, 0.02);

        let limits = VelocityLimits {
            min_m_s: 0.1,
            max_m_s: 2.0,
        };
        let segment = [Segment {
            length_m: 15.0,
            mass_flow_kg_s: m,
        }];
        let fixed = size_network(
            &segment,
            Method::Fixed(dn(100).unwrap()),
            limits,
            &WATER_80C,
        );
        assert_eq!(fixed.outside_limits, 1);
        assert_close(fixed.cost_eur, 15.0 * 790.0, 1e-12);
        let flow = size_network(
            &segment,
            Method::FlowBased {
                max_velocity_m_s: 2.0,
                search: Search::Direct,
            },
            limits,
            &WATER_80C,
        );
        assert_eq!(flow.pipes[0].size.dn, 20);
        assert_eq!(flow.outside_limits, 0);
        assert_close(flow.cost_eur, 15.0 * 420.0, 1e-12);
    }

    /// A 3 MW trunk: DN100 is too fast, flow-based sizing takes DN125.
    ///
    /// ṁ = 3 000 000 / (4196 × 30) = 23.8322 kg/s
    /// DN100: v = 23.8322 / (971.8 × 9.00884e-3) = 2.7222 m/s > 2.0;
    ///   Re = 798 099; Swamee–Jain f = 0.017204; Δp/L = 0.017204 / 0.1071 ×
    ///   971.8 × 2.7222² / 2 = 578.4 Pa/m
    /// d at 2.0 m/s: √(4 × 23.8322 / (π × 971.8 × 2.0)) = 0.12495 m, so the
    ///   first size at least that wide is DN125 (132.5 mm): A = 1.37886e-2 m²,
    ///   v = 23.8322 / (971.8 × 1.37886e-2) = 1.7786 m/s
    /// DN150 (160.3 mm): v = 1.2152 m/s, f = 0.016397, Δp/L = 73.39 Pa/m
    #[test]
    fn a_3_mw_trunk_needs_dn125() {
        let m = mass_flow_kg_s(3000.0, DELTA_T_K, &WATER_80C);
        assert_close(m, 23.8322, 1e-5);
        let dn100 = hydraulics(m, dn(100).unwrap(), &WATER_80C, Friction::SwameeJain);
        assert_close(dn100.velocity_m_s, 2.7222, 1e-4);
        assert_close(dn100.reynolds, 798_099.0, 1e-4);
        assert_close(dn100.friction_factor, 0.017204, 1e-3);
        assert_close(dn100.pa_per_m, 578.4, 1e-3);
        let dn150 = hydraulics(m, dn(150).unwrap(), &WATER_80C, Friction::SwameeJain);
        assert_close(dn150.velocity_m_s, 1.2152, 1e-4);
        assert_close(dn150.friction_factor, 0.016397, 1e-3);
        assert_close(dn150.pa_per_m, 73.39, 1e-3);

        for search in [Search::Direct, Search::FullScan] {
            let mut work = Work::default();
            let pipe = size_pipe(
                m,
                Method::FlowBased {
                    max_velocity_m_s: 2.0,
                    search,
                },
                &WATER_80C,
                &mut work,
            );
            assert_eq!(pipe.size.dn, 125, "{search:?}");
            assert_close(pipe.hydraulics.velocity_m_s, 1.7786, 1e-4);
        }
    }

    /// A 150 kW street main in DN50.
    ///
    /// ṁ = 150 000 / (4196 × 30) = 1.19161 kg/s; A = π × 0.0545² / 4 =
    /// 2.33283e-3 m²; v = 1.19161 / (971.8 × 2.33283e-3) = 0.52562 m/s;
    /// Re = 78 419; ε/d = 9.1743e-4; Swamee–Jain f = 0.022622, Δp/L =
    /// 0.022622 / 0.0545 × 971.8 × 0.52562² / 2 = 55.72 Pa/m; Colebrook–White
    /// f = 0.022466, Δp/L = 55.34 Pa/m.
    #[test]
    fn a_150_kw_street_main_in_dn50() {
        let m = mass_flow_kg_s(150.0, DELTA_T_K, &WATER_80C);
        let sj = hydraulics(m, dn(50).unwrap(), &WATER_80C, Friction::SwameeJain);
        assert_close(sj.velocity_m_s, 0.52562, 1e-4);
        assert_close(sj.reynolds, 78_419.0, 1e-4);
        assert_close(sj.pa_per_m, 55.72, 1e-3);
        let cw = hydraulics(
            m,
            dn(50).unwrap(),
            &WATER_80C,
            Friction::ColebrookWhite { tolerance: 1e-10 },
        );
        assert_close(cw.friction_factor, 0.022466, 1e-3);
        assert_close(cw.pa_per_m, 55.34, 1e-3);
    }

    #[test]
    fn colebrook_white_iterates_to_its_tolerance() {
        let coarse = colebrook_white(1e5, 1e-3, 1e-6);
        let fine = colebrook_white(1e5, 1e-3, 1e-12);
        assert!(coarse.iterations >= 2 && fine.iterations > coarse.iterations);
        assert!(close(coarse.f, fine.f, 1e-5));
        // The fixed point satisfies the equation.
        let f = fine.f;
        let rhs = -2.0 * (1e-3 / 3.7 + 2.51 / (1e5 * f.sqrt())).log10();
        assert!((1.0 / f.sqrt() - rhs).abs() < 1e-9);
        // Laminar flow needs no iteration.
        assert_eq!(colebrook_white(1000.0, 1e-3, 1e-6).f, 0.064);
    }

    #[test]
    fn every_flow_gets_the_smallest_size_within_the_maximum_velocity() {
        let limits = VelocityLimits {
            min_m_s: 0.1,
            max_m_s: 2.0,
        };
        for load_kw in [4.0, 10.0, 35.0, 120.0, 480.0, 1500.0, 6000.0, 12_000.0] {
            let m = mass_flow_kg_s(load_kw, DELTA_T_K, &WATER_80C);
            let mut direct_work = Work::default();
            let mut scan_work = Work::default();
            let method = |search| Method::FlowBased {
                max_velocity_m_s: limits.max_m_s,
                search,
            };
            let direct = size_pipe(m, method(Search::Direct), &WATER_80C, &mut direct_work);
            let scan = size_pipe(m, method(Search::FullScan), &WATER_80C, &mut scan_work);
            assert_eq!(direct.size.dn, scan.size.dn, "{load_kw} kW");
            let at = DN_SERIES
                .iter()
                .position(|s| s.dn == direct.size.dn)
                .unwrap();
            assert!(direct.hydraulics.velocity_m_s <= 2.0, "{load_kw} kW");
            if at > 0 {
                let smaller = velocity_m_s(m, &DN_SERIES[at - 1], &WATER_80C);
                assert!(
                    smaller > 2.0,
                    "{load_kw} kW: DN{} would do",
                    DN_SERIES[at - 1].dn
                );
            }
            // The scan does many times the work of the direct search.
            assert_eq!(scan_work.friction_evaluations, DN_SERIES.len() as u64);
            assert!(scan_work.colebrook_iterations >= 5 * DN_SERIES.len() as u64);
            assert_eq!(direct_work.friction_evaluations, 1);
            assert_eq!(direct_work.explicit_evaluations, 1);
            assert_eq!(direct_work.colebrook_iterations, 0);
            assert!(direct_work.comparisons <= 4, "bisection of 13 sizes");
        }
        // A 4 kW load is slower than 0.1 m/s even in DN20: outside the limits.
        let m = mass_flow_kg_s(4.0, DELTA_T_K, &WATER_80C);
        assert!(velocity_m_s(m, dn(20).unwrap(), &WATER_80C) < 0.1);
        // 20 MW is faster than 2.0 m/s even in DN300 (2.1289 m/s): the largest
        // size, reported outside the limits.
        let m = mass_flow_kg_s(20_000.0, DELTA_T_K, &WATER_80C);
        let segment = [Segment {
            length_m: 1.0,
            mass_flow_kg_s: m,
        }];
        for search in [Search::Direct, Search::FullScan] {
            let method = Method::FlowBased {
                max_velocity_m_s: 2.0,
                search,
            };
            let s = size_network(&segment, method, limits, &WATER_80C);
            assert_eq!(s.pipes[0].size.dn, 300, "{search:?}");
            assert_close(s.max_velocity_m_s, 2.1289, 1e-4);
            assert_eq!(s.outside_limits, 1);
        }
    }

    #[test]
    fn a_network_sums_cost_and_weights_pressure_drop_by_length() {
        let limits = VelocityLimits {
            min_m_s: 0.1,
            max_m_s: 2.0,
        };
        let segments = [
            Segment {
                length_m: 100.0,
                mass_flow_kg_s: mass_flow_kg_s(500.0, DELTA_T_K, &WATER_80C),
            },
            Segment {
                length_m: 300.0,
                mass_flow_kg_s: mass_flow_kg_s(3000.0, DELTA_T_K, &WATER_80C),
            },
        ];
        let s = size_network(
            &segments,
            Method::Fixed(dn(100).unwrap()),
            limits,
            &WATER_80C,
        );
        assert_close(s.length_m, 400.0, 1e-12);
        assert_close(s.cost_eur, 400.0 * 790.0, 1e-12);
        // (100 × 18.19 + 300 × 575.0) / 400 with Colebrook–White.
        assert_close(
            s.mean_pa_per_m,
            (100.0 * 18.19 + 300.0 * 575.0) / 400.0,
            2e-3,
        );
        assert_eq!(s.outside_limits, 1);
        assert_close(s.max_velocity_m_s, 2.7222, 1e-4);
        assert_eq!(s.work.friction_evaluations, 2);
    }
}
