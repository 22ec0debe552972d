//! The synthetic organization: cities, people, Confluence spaces and pages, Jira projects and issues, and the
//! prose they write. Static tables plus a deterministic builder, so that the same seed always yields the same
//! company and the rest of the generator can refer to everything by index.
//!
//! Owns the company's data, none of the detections': no detection id, action key or threshold belongs here.
//! Imports only the generator's `rng`; no store, engine, tokio or `std::fs`.

use super::rng::Rng;

/// A place a request can come from. `second` is a nearby city in the same country that benign users visit,
/// `far` a same-country city far enough away to make a login "impossible travel", `abroad` a nearby foreign
/// city used for "login from a new country".
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// First two octets of the addresses handed out in this city.
    pub net: [u8; 2],
    pub second: Option<usize>,
    pub far: Option<usize>,
    pub abroad: usize,
    /// Whole hours from UTC, for working-hours weighting.
    pub utc_offset: i8,
}

// A positional constructor keeps the city table one readable row per city.
#[allow(clippy::too_many_arguments)]
const fn city(
    name: &'static str,
    region: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    net: [u8; 2],
    second: Option<usize>,
    far: Option<usize>,
    abroad: usize,
    utc_offset: i8,
) -> City {
    City {
        name,
        region,
        country,
        lat,
        lon,
        net,
        second,
        far,
        abroad,
        utc_offset,
    }
}

/// Every city the generator knows. Indices are referred to by `second`, `far`, `abroad` and [`HOMES`].
pub(crate) const CITIES: &[City] = &[
    city(
        "San Francisco",
        "California",
        "United States",
        37.7749,
        -122.4194,
        [104, 28],
        Some(1),
        Some(2),
        17,
        -8,
    ),
    city(
        "Los Angeles",
        "California",
        "United States",
        34.0522,
        -118.2437,
        [104, 33],
        Some(0),
        Some(2),
        17,
        -8,
    ),
    city(
        "New York",
        "New York",
        "United States",
        40.7128,
        -74.0060,
        [72, 229],
        Some(3),
        Some(0),
        15,
        -5,
    ),
    city(
        "Boston",
        "Massachusetts",
        "United States",
        42.3601,
        -71.0589,
        [73, 16],
        Some(2),
        Some(0),
        16,
        -5,
    ),
    city(
        "Seattle",
        "Washington",
        "United States",
        47.6062,
        -122.3321,
        [50, 35],
        None,
        Some(39),
        17,
        -8,
    ),
    city(
        "Austin",
        "Texas",
        "United States",
        30.2672,
        -97.7431,
        [70, 112],
        None,
        Some(4),
        15,
        -6,
    ),
    city(
        "London",
        "England",
        "United Kingdom",
        51.5074,
        -0.1278,
        [81, 2],
        Some(7),
        None,
        23,
        0,
    ),
    city(
        "Manchester",
        "England",
        "United Kingdom",
        53.4808,
        -2.2426,
        [86, 12],
        Some(6),
        None,
        23,
        0,
    ),
    city(
        "Berlin",
        "Berlin",
        "Germany",
        52.5200,
        13.4050,
        [85, 214],
        Some(9),
        None,
        37,
        1,
    ),
    city(
        "Munich",
        "Bavaria",
        "Germany",
        48.1351,
        11.5820,
        [91, 64],
        Some(8),
        None,
        37,
        1,
    ),
    city(
        "Paris",
        "Île-de-France",
        "France",
        48.8566,
        2.3522,
        [90, 84],
        Some(11),
        None,
        36,
        1,
    ),
    city(
        "Lyon",
        "Auvergne-Rhône-Alpes",
        "France",
        45.7640,
        4.8357,
        [92, 154],
        Some(10),
        None,
        36,
        1,
    ),
    city(
        "Sydney",
        "New South Wales",
        "Australia",
        -33.8688,
        151.2093,
        [101, 181],
        Some(13),
        Some(14),
        31,
        10,
    ),
    city(
        "Melbourne",
        "Victoria",
        "Australia",
        -37.8136,
        144.9631,
        [110, 142],
        Some(12),
        Some(14),
        31,
        10,
    ),
    city(
        "Perth",
        "Western Australia",
        "Australia",
        -31.9505,
        115.8605,
        [121, 44],
        None,
        Some(12),
        32,
        8,
    ),
    city(
        "Toronto",
        "Ontario",
        "Canada",
        43.6532,
        -79.3832,
        [99, 230],
        Some(16),
        Some(17),
        2,
        -5,
    ),
    city(
        "Montreal",
        "Quebec",
        "Canada",
        45.5017,
        -73.5673,
        [142, 169],
        Some(15),
        Some(17),
        3,
        -5,
    ),
    city(
        "Vancouver",
        "British Columbia",
        "Canada",
        49.2827,
        -123.1207,
        [154, 20],
        None,
        Some(15),
        4,
        -8,
    ),
    city(
        "Bengaluru",
        "Karnataka",
        "India",
        12.9716,
        77.5946,
        [49, 204],
        Some(19),
        Some(20),
        32,
        5,
    ),
    city(
        "Chennai",
        "Tamil Nadu",
        "India",
        13.0827,
        80.2707,
        [117, 193],
        Some(18),
        Some(20),
        32,
        5,
    ),
    city(
        "Delhi",
        "Delhi",
        "India",
        28.7041,
        77.1025,
        [122, 161],
        None,
        Some(18),
        32,
        5,
    ),
    city(
        "Amsterdam",
        "North Holland",
        "Netherlands",
        52.3676,
        4.9041,
        [145, 53],
        Some(22),
        None,
        36,
        1,
    ),
    city(
        "Rotterdam",
        "South Holland",
        "Netherlands",
        51.9244,
        4.4777,
        [82, 168],
        Some(21),
        None,
        36,
        1,
    ),
    city(
        "Dublin",
        "Leinster",
        "Ireland",
        53.3498,
        -6.2603,
        [86, 40],
        Some(24),
        None,
        6,
        0,
    ),
    city(
        "Cork",
        "Munster",
        "Ireland",
        51.8985,
        -8.4756,
        [109, 76],
        Some(23),
        None,
        6,
        0,
    ),
    city(
        "Madrid",
        "Community of Madrid",
        "Spain",
        40.4168,
        -3.7038,
        [83, 45],
        Some(26),
        None,
        38,
        1,
    ),
    city(
        "Barcelona",
        "Catalonia",
        "Spain",
        41.3874,
        2.1686,
        [88, 2],
        Some(25),
        None,
        10,
        1,
    ),
    city(
        "Tokyo",
        "Tokyo",
        "Japan",
        35.6762,
        139.6503,
        [126, 15],
        Some(28),
        None,
        41,
        9,
    ),
    city(
        "Osaka",
        "Osaka",
        "Japan",
        34.6937,
        135.5023,
        [153, 122],
        Some(27),
        None,
        41,
        9,
    ),
    city(
        "São Paulo",
        "São Paulo",
        "Brazil",
        -23.5505,
        -46.6333,
        [177, 62],
        Some(30),
        Some(40),
        42,
        -3,
    ),
    city(
        "Rio de Janeiro",
        "Rio de Janeiro",
        "Brazil",
        -22.9068,
        -43.1729,
        [189, 8],
        Some(29),
        Some(40),
        42,
        -3,
    ),
    city(
        "Auckland",
        "Auckland",
        "New Zealand",
        -36.8485,
        174.7633,
        [125, 236],
        None,
        None,
        12,
        13,
    ),
    city(
        "Singapore",
        "Singapore",
        "Singapore",
        1.3521,
        103.8198,
        [118, 189],
        None,
        None,
        18,
        8,
    ),
    city(
        "Lagos",
        "Lagos",
        "Nigeria",
        6.5244,
        3.3792,
        [102, 89],
        None,
        None,
        6,
        1,
    ),
    city(
        "Bucharest",
        "Bucharest",
        "Romania",
        44.4268,
        26.1025,
        [5, 2],
        None,
        None,
        8,
        2,
    ),
    city(
        "Ho Chi Minh City",
        "Ho Chi Minh City",
        "Vietnam",
        10.8231,
        106.6297,
        [113, 161],
        None,
        None,
        32,
        7,
    ),
    city(
        "Brussels",
        "Brussels-Capital",
        "Belgium",
        50.8503,
        4.3517,
        [81, 246],
        None,
        None,
        10,
        1,
    ),
    city(
        "Prague",
        "Prague",
        "Czechia",
        50.0755,
        14.4378,
        [89, 24],
        None,
        None,
        8,
        1,
    ),
    city(
        "Lisbon",
        "Lisbon",
        "Portugal",
        38.7223,
        -9.1393,
        [94, 63],
        None,
        None,
        25,
        0,
    ),
    city(
        "Miami",
        "Florida",
        "United States",
        25.7617,
        -80.1918,
        [73, 85],
        None,
        Some(4),
        15,
        -5,
    ),
    city(
        "Manaus",
        "Amazonas",
        "Brazil",
        -3.1190,
        -60.0217,
        [179, 191],
        None,
        Some(29),
        42,
        -4,
    ),
    city(
        "Seoul",
        "Seoul",
        "South Korea",
        37.5665,
        126.9780,
        [121, 134],
        None,
        None,
        27,
        9,
    ),
    city(
        "Buenos Aires",
        "Buenos Aires",
        "Argentina",
        -34.6037,
        -58.3816,
        [181, 47],
        None,
        None,
        29,
        -3,
    ),
];

/// Cities people live in, weighted by repetition (bigger offices appear more often).
pub(crate) const HOMES: &[usize] = &[
    0, 2, 6, 8, 12, 15, 18, 21, 0, 1, 3, 4, 5, 6, 7, 9, 10, 11, 13, 16, 19, 23, 25, 27, 29, 2, 6,
    12, 22, 24, 26, 28, 30, 0, 8, 18,
];

/// Where credential-stuffing bursts come from: never a home city.
pub(crate) const ATTACKER_CITIES: &[usize] = &[33, 34, 35];

/// Great-circle distance in km; the same formula an impossible-travel check uses, so the generator can keep
/// benign travel well under any speed limit.
pub(crate) fn distance_km(a: usize, b: usize) -> f64 {
    if a == b {
        return 0.0;
    }
    let (a, b) = (&CITIES[a], &CITIES[b]);
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Isabel", "Jonas", "Kavya",
    "Liam", "Maya", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoe", "Aditi", "Bruno", "Carmen", "Dmitri", "Emma", "Felix", "Gita",
    "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Rafael",
    "Sofia", "Tomas", "Ursula", "Victor", "Wanjiru",
];
const LAST: &[&str] = &[
    "Abara",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Walsh",
    "Xu",
    "Yamamoto",
    "Zhang",
    "Andersen",
    "Brennan",
    "Chen",
    "Das",
    "Evans",
    "Ferreira",
    "Gupta",
    "Hansen",
    "Iyer",
    "Johansson",
    "Kim",
    "Larsen",
    "Moreau",
    "Nguyen",
    "O'Brien",
    "Petrov",
    "Reyes",
    "Silva",
    "Thompson",
    "Ueda",
    "Vogel",
    "Wright",
];

/// The company every e-mail address belongs to.
pub(crate) const DOMAIN: &str = "acme-corp.example";

/// An Atlassian site; spaces and projects live on one of them.
pub(crate) struct Site {
    pub id: &'static str,
    pub host: &'static str,
    pub name: &'static str,
}

pub(crate) const SITES: &[Site] = &[
    Site {
        id: "a1f0c3e2-7d44-4c1b-9b1e-5f2d8c6a0e11",
        host: "https://acme.atlassian.net",
        name: "acme",
    },
    Site {
        id: "c7b2e9d4-1a3f-4e8b-8d2c-0f6e4a9b3c22",
        host: "https://acme-eu.atlassian.net",
        name: "acme-eu",
    },
];

/// A Confluence space: key, name, site index and the subjects its pages are about.
pub(crate) struct Space {
    pub key: &'static str,
    pub name: &'static str,
    pub site: usize,
    pub subjects: [&'static str; 6],
}

pub(crate) const SPACES: &[Space] = &[
    Space {
        key: "OPS",
        name: "Operations",
        site: 0,
        subjects: [
            "Payments API",
            "Kubernetes cluster",
            "Database failover",
            "On-call rotation",
            "CDN",
            "Status page",
        ],
    },
    Space {
        key: "ENG",
        name: "Engineering",
        site: 0,
        subjects: [
            "Search service",
            "Mobile app",
            "Billing service",
            "Design system",
            "CI pipeline",
            "Data model",
        ],
    },
    Space {
        key: "HR",
        name: "People",
        site: 1,
        subjects: [
            "Parental leave",
            "Performance reviews",
            "Hiring",
            "Remote work",
            "Benefits enrolment",
            "Offboarding",
        ],
    },
    Space {
        key: "FIN",
        name: "Finance",
        site: 1,
        subjects: [
            "Q3 forecast",
            "Vendor invoices",
            "Travel expenses",
            "Budget planning",
            "Procurement",
            "Audit preparation",
        ],
    },
    Space {
        key: "SALES",
        name: "Sales",
        site: 0,
        subjects: [
            "Enterprise pipeline",
            "Pricing",
            "Partner program",
            "EMEA territory",
            "Renewals",
            "Demo environment",
        ],
    },
    Space {
        key: "MKT",
        name: "Marketing",
        site: 0,
        subjects: [
            "Product launch",
            "Brand guidelines",
            "Webinar series",
            "Website refresh",
            "Customer stories",
            "Events calendar",
        ],
    },
    Space {
        key: "LEGAL",
        name: "Legal",
        site: 1,
        subjects: [
            "Contract templates",
            "Data processing",
            "Trademark",
            "Open source policy",
            "Privacy notice",
            "Vendor review",
        ],
    },
    Space {
        key: "SEC",
        name: "Security",
        site: 0,
        subjects: [
            "Access reviews",
            "Phishing drills",
            "Vulnerability management",
            "Incident response",
            "Security training",
            "Key rotation",
        ],
    },
    Space {
        key: "PROD",
        name: "Product",
        site: 0,
        subjects: [
            "Q4 roadmap",
            "Onboarding flow",
            "Analytics dashboard",
            "Pricing page",
            "Accessibility",
            "Notifications",
        ],
    },
    Space {
        key: "SUP",
        name: "Support",
        site: 1,
        subjects: [
            "Escalation process",
            "Macros",
            "SLA",
            "Known issues",
            "Refund handling",
            "Support tooling",
        ],
    },
    Space {
        key: "DATA",
        name: "Data Platform",
        site: 0,
        subjects: [
            "Warehouse",
            "ETL jobs",
            "Metrics layer",
            "Data retention",
            "Experimentation",
            "Reporting",
        ],
    },
    Space {
        key: "IT",
        name: "IT Help",
        site: 1,
        subjects: [
            "Laptop setup",
            "VPN",
            "Printer",
            "Software requests",
            "Office Wi-Fi",
            "Device management",
        ],
    },
];

const DOC_KINDS: [&str; 10] = [
    "runbook",
    "overview",
    "meeting notes",
    "retrospective",
    "onboarding guide",
    "FAQ",
    "design doc",
    "decision log",
    "checklist",
    "announcement",
];

/// Pages per space: six subjects times ten kinds of document.
pub(crate) const PAGES_PER_SPACE: usize = 60;

/// A Jira project: key, name, site index and the things its issues are about.
pub(crate) struct Project {
    pub key: &'static str,
    pub name: &'static str,
    pub site: usize,
    pub objects: [&'static str; 8],
}

pub(crate) const PROJECTS: &[Project] = &[
    Project {
        key: "ENG",
        name: "Engineering",
        site: 0,
        objects: [
            "login redirect loop",
            "flaky checkout test",
            "search latency",
            "rate limiter",
            "dark mode",
            "webhook retries",
            "cache invalidation",
            "CSV import",
        ],
    },
    Project {
        key: "WEB",
        name: "Website",
        site: 0,
        objects: [
            "pricing page layout",
            "blog RSS feed",
            "cookie banner",
            "sitemap",
            "contact form",
            "footer links",
            "hero image",
            "404 page",
        ],
    },
    Project {
        key: "MOB",
        name: "Mobile",
        site: 0,
        objects: [
            "push notifications",
            "offline mode",
            "app store screenshots",
            "crash on launch",
            "biometric unlock",
            "deep links",
            "tablet layout",
            "onboarding carousel",
        ],
    },
    Project {
        key: "INFRA",
        name: "Infrastructure",
        site: 0,
        objects: [
            "node pool upgrade",
            "backup job",
            "TLS certificates",
            "DNS records",
            "log shipping",
            "autoscaling policy",
            "staging cluster",
            "cost alerts",
        ],
    },
    Project {
        key: "SUP",
        name: "Support Desk",
        site: 1,
        objects: [
            "refund request",
            "invoice copy",
            "account unlock",
            "SSO setup question",
            "data export request",
            "plan downgrade",
            "billing address",
            "seat count",
        ],
    },
    Project {
        key: "DATA",
        name: "Data",
        site: 0,
        objects: [
            "nightly ETL",
            "churn dashboard",
            "event schema",
            "warehouse costs",
            "late-arriving data",
            "dbt models",
            "revenue report",
            "retention cohort",
        ],
    },
    Project {
        key: "SEC",
        name: "Security",
        site: 0,
        objects: [
            "access review",
            "dependency alerts",
            "phishing report",
            "laptop encryption",
            "pen test findings",
            "MFA rollout",
            "SBOM export",
            "vendor questionnaire",
        ],
    },
    Project {
        key: "HRS",
        name: "HR Service",
        site: 1,
        objects: [
            "new hire equipment",
            "payroll calendar",
            "visa letter",
            "leave balance",
            "benefits question",
            "office badge",
            "training budget",
            "reference letter",
        ],
    },
];

const ISSUE_VERBS: [&str; 10] = [
    "Fix",
    "Investigate",
    "Add",
    "Update",
    "Remove",
    "Document",
    "Refactor",
    "Improve",
    "Migrate",
    "Test",
];

/// Issues per project: ten verbs times eight objects.
pub(crate) const ISSUES_PER_PROJECT: usize = 80;

pub(crate) const ATTACHMENTS: &[&str] = &[
    "architecture.png",
    "q3-plan.pdf",
    "meeting-recording.mp4",
    "screenshot.png",
    "export.csv",
    "diagram.drawio",
    "slides.pptx",
    "notes.docx",
    "budget.xlsx",
    "logo.svg",
    "trace.har",
    "contract-draft.pdf",
];

/// Searches people really run; none names a term of the catalogue's `SENSITIVE_TERMS` (a test checks).
pub(crate) const BENIGN_QUERIES: &[&str] = &[
    "onboarding checklist",
    "q4 roadmap",
    "deploy runbook",
    "sprint retro",
    "holiday calendar",
    "design review",
    "incident postmortem",
    "release notes",
    "okr",
    "vpn setup",
    "expense policy",
    "brand guidelines",
    "customer story",
    "on-call schedule",
    "api rate limits",
    "pricing page",
    "kubernetes upgrade",
    "meeting notes",
    "webinar",
    "style guide",
    "office wifi",
    "data retention",
    "escalation process",
    "dashboard",
    "roadmap",
    "migration plan",
    "architecture diagram",
    "team offsite",
    "laptop setup",
    "support macros",
];

/// Sentences for page and comment bodies: realistic, and free of anything a content scanner should match.
pub(crate) const PROSE: &[&str] = &[
    "This page summarises what we agreed in the last planning session.",
    "Action items are tracked in the linked Jira epic.",
    "Please add your comments before Friday so we can finalise the plan.",
    "The rollout will happen in three stages, starting with internal users.",
    "We expect the migration to take about two weeks of calendar time.",
    "Owners for each workstream are listed in the table below.",
    "If something is unclear, ask in the team channel rather than by e-mail.",
    "Latency improved by roughly 18% after the cache change.",
    "The vendor confirmed the renewal terms are unchanged from last year.",
    "We will revisit this decision at the end of the quarter.",
    "See the previous retrospective for the background on this change.",
    "Customer feedback has been mostly positive since the beta opened.",
    "The on-call engineer should follow the escalation steps in order.",
    "Budget for this initiative was approved by the leadership team.",
    "Testing in staging found two minor issues, both now fixed.",
    "Remember to update the changelog when the release ships.",
    "The new hire buddy programme starts on the first Monday of the month.",
    "Dashboards for this service live in the observability space.",
    "We are deprecating the old endpoint; clients have ninety days to move.",
    "Risks and mitigations are listed at the bottom of the page.",
    "The team offsite is planned for the second week of November.",
    "Accessibility review is scheduled before the public launch.",
    "Support volume dropped after we published the troubleshooting guide.",
    "The design mock-ups are attached; feedback welcome.",
    "Data older than thirteen months is archived to cold storage.",
    "Please keep discussion on this page so decisions stay searchable.",
    "The contract review is with legal and should be back next week.",
    "Sales asked for a one-page summary they can share with prospects.",
    "Metrics are refreshed every night at 02:00 UTC.",
    "We chose the simpler option because it is easier to operate.",
    "Thanks everyone for the quick turnaround on this.",
    "Next steps: confirm owners, agree dates, and communicate the plan.",
];

/// Decoys: sentences that look like secrets to a naive scanner but must not fire a validated one.
pub(crate) const DECOY_PROSE: &[&str] = &[
    "If you are locked out, please reset your password from the account settings page.",
    "Never paste a password into a ticket; share it through the vault instead.",
    "AWS access key ids start with AKIA; rotate long-term keys every ninety days.",
    "The AWS documentation uses AKIAIOSFODNN7EXAMPLE as its example access key id.",
    "In the sandbox, use the placeholder Stripe key sk_test_4eC39HqLyjWDarjtT1zdp7dc from the docs.",
    "Order reference 4111 1111 1111 1112 was refunded on the customer's request.",
    "The SSN field in the form uses the mask 000-00-0000 until the employee fills it in.",
    "GitHub personal access tokens begin with ghp_ and are followed by thirty-six characters.",
    "The IBAN field must accept up to thirty-four characters, letters and digits.",
];

/// One person in the organization.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub home: usize,
    /// Fourth octet pair for addresses in any city, so each person keeps a recognisable address.
    pub host: [u8; 2],
    pub admin: bool,
    /// Uses an API token for Jira automation some of the time.
    pub automation: bool,
    /// May log in from a second (same-country) city. Cleared for incident actors and decoy users so that
    /// their login history is exactly what the plan says.
    pub travels: bool,
}

/// The whole synthetic company.
pub(crate) struct Org {
    pub users: Vec<User>,
}

impl Org {
    /// Build `n` people; names are distinct for up to `FIRST.len() * LAST.len()` people.
    pub(crate) fn build(n: usize, rng: &mut Rng) -> Org {
        let f_off = rng.below(FIRST.len() as u64) as usize;
        let l_off = rng.below(LAST.len() as u64) as usize;
        let h_off = rng.below(HOMES.len() as u64) as usize;
        let salt = rng.next_u64();
        let users = (0..n)
            .map(|i| {
                let first = FIRST[(i + f_off) % FIRST.len()];
                // Distinct (first, last) pairs: rows of the same first name step the last name by one.
                let last = LAST[(i + i / FIRST.len() + l_off) % LAST.len()];
                let admin = i % 16 == 3;
                let (first, last) = if i == 3 {
                    (first, "Admin")
                } else {
                    (first, last)
                };
                let name = format!("{first} {last}");
                let local: String = format!("{first}.{last}")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                let h = super::rng::mix(salt ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                // 24 hex digits: 64 hashed bits, then a bijection of the index, so ids are unique by construction.
                // A bijection on 32 bits keeps ids unique without looking sequential.
                let mut x = ((i as u32) ^ (salt as u32)).wrapping_mul(0x9e37_79b1);
                x ^= x >> 16;
                let id = format!("{h:016x}{x:08x}");
                User {
                    id,
                    name,
                    email: format!("{local}@{DOMAIN}"),
                    home: HOMES[(i * 7 + h_off) % HOMES.len()],
                    host: [(h >> 8) as u8 % 250 + 3, (h >> 16) as u8 % 250 + 3],
                    admin,
                    automation: i % 9 == 4,
                    travels: true,
                }
            })
            .collect();
        Org { users }
    }

    pub(crate) fn page_count() -> usize {
        SPACES.len() * PAGES_PER_SPACE
    }

    pub(crate) fn issue_count() -> usize {
        PROJECTS.len() * ISSUES_PER_PROJECT
    }
}

/// A Confluence page or blog post, resolved from its index.
pub(crate) struct PageRef {
    pub space: &'static Space,
    pub id: u64,
    pub title: String,
    pub blog: bool,
}

/// Page `i` (0 ..page_count): every twelfth is a blog post.
pub(crate) fn page(i: usize) -> PageRef {
    let s = i / PAGES_PER_SPACE % SPACES.len();
    let j = i % PAGES_PER_SPACE;
    let space = &SPACES[s];
    let subject = space.subjects[j / DOC_KINDS.len()];
    let kind = DOC_KINDS[j % DOC_KINDS.len()];
    let blog = j % 12 == 11;
    let title = if blog {
        format!("{subject}: {kind} for the team")
    } else {
        format!("{subject} {kind}")
    };
    PageRef {
        space,
        id: 98_000 + (s as u64) * 1_000 + j as u64 * 7 + 1,
        title,
        blog,
    }
}

/// A Jira issue, resolved from its index.
pub(crate) struct IssueRef {
    pub project: &'static Project,
    pub id: u64,
    pub key: String,
    pub summary: String,
}

/// Issue `i` (0 ..issue_count).
pub(crate) fn issue(i: usize) -> IssueRef {
    let p = i / ISSUES_PER_PROJECT % PROJECTS.len();
    let j = i % ISSUES_PER_PROJECT;
    let project = &PROJECTS[p];
    let verb = ISSUE_VERBS[j % ISSUE_VERBS.len()];
    let object = project.objects[j / ISSUE_VERBS.len()];
    IssueRef {
        project,
        id: 10_000 + (p as u64) * 500 + j as u64,
        key: format!("{}-{}", project.key, 100 + j),
        summary: format!("{verb} {object}"),
    }
}
