//! Benchmark of `robotoff import-products`: writes a synthetic Open Food Facts dump
//! (realistic product JSON, ~10 kB a line, gzip by default), imports it with the
//! release binary into the database at `ROBOTOFF_BENCH_DATABASE_URL`, and reports
//! products/s and the importer's peak RSS.
//!
//! `scripts/bench-import-products [--products N] [--plain] [--dump PATH] [--writers N]
//! [--batch-size N]`

use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

struct Args {
    products: u64,
    gzip: bool,
    dump: Option<PathBuf>,
    /// Options passed on to `import-products` (`--writers`, `--batch-size`).
    import: Vec<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        products: 1_000_000,
        gzip: true,
        dump: None,
        import: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--products" => {
                a.products = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--products needs a number")?
            }
            "--plain" => a.gzip = false,
            "--dump" => a.dump = Some(it.next().ok_or("--dump needs a path")?.into()),
            "--writers" | "--batch-size" => {
                let value = it.next().ok_or(format!("{arg} needs a number"))?;
                a.import.push(arg.clone());
                a.import.push(value);
            }
            // Arguments cargo passes to bench targets.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// xorshift64*: deterministic, dependency-free variety.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const CATEGORIES: &[&str] = &[
    "en:snacks",
    "en:sweet-snacks",
    "en:biscuits-and-cakes",
    "en:biscuits",
    "en:beverages",
    "en:plant-based-foods",
    "en:cereals-and-potatoes",
    "en:breakfasts",
    "en:dairies",
    "en:cheeses",
    "en:fermented-foods",
    "en:meals",
    "en:frozen-foods",
    "en:sauces",
    "en:condiments",
];
const LABELS: &[&str] = &[
    "en:organic",
    "en:eu-organic",
    "fr:ab-agriculture-biologique",
    "en:vegan",
    "en:no-gluten",
    "en:fair-trade",
    "en:green-dot",
];
const INGREDIENTS: &[&str] = &[
    "wheat flour",
    "sugar",
    "palm oil",
    "salt",
    "milk powder",
    "cocoa",
    "egg",
    "butter",
    "water",
    "rice",
    "soy lecithin",
    "vanilla",
];
const NUTRIENTS: &[&str] = &[
    "energy-kcal",
    "energy-kj",
    "fat",
    "saturated-fat",
    "carbohydrates",
    "sugars",
    "fiber",
    "proteins",
    "salt",
    "sodium",
];
const STATES: &[&str] = &[
    "en:to-be-completed",
    "en:nutrition-facts-completed",
    "en:ingredients-completed",
    "en:expiration-date-to-be-completed",
    "en:packaging-code-completed",
    "en:characteristics-completed",
    "en:categories-completed",
    "en:brands-completed",
    "en:packaging-completed",
    "en:quantity-completed",
    "en:product-name-completed",
    "en:photos-validated",
];

fn tags(rng: &mut Rng, from: &[&str], n: u64) -> String {
    let items: Vec<String> = (0..n).map(|_| format!("\"{}\"", rng.pick(from))).collect();
    format!("[{}]", items.join(","))
}

/// One product line of an Open Food Facts dump (new `images` schema).
fn product_line(i: u64, rng: &mut Rng, out: &mut String) {
    out.clear();
    let code = format!("{:013}", 3_000_000_000_000u64 + i * 7919 % 999_999_999_999);
    let product_type = match rng.below(100) {
        0..=89 => "food",
        90..=95 => "beauty",
        96..=97 => "petfood",
        _ => "product",
    };
    let brand = format!("Brand {}", rng.below(5000));
    let _ = write!(
        out,
        r#"{{"code":"{code}","_id":"{code}","product_type":"{product_type}","lang":"fr","lc":"fr","product_name":"Product {i}","product_name_fr":"Produit {i}","product_name_en":"Product {i}","generic_name":"Biscuits au chocolat","brands":"{brand}","brands_tags":["{btag}"],"quantity":"{q} g","serving_size":"30 g","emb_codes":"FR {a}.{b}.{c} CE","emb_codes_tags":["fr-{a}-{b}-{c}-ce"],"stores_tags":["carrefour","leclerc"],"countries":"France, Belgique","countries_tags":["en:france","en:belgium"],"languages_codes":{{"fr":6,"en":2}},"unique_scans_n":{scans},"schema_version":1003,"rev":{rev},"created_t":{created},"last_modified_t":{modified},"completeness":0.{compl},"categories_tags":{cats},"categories_hierarchy":{cats2},"labels_tags":{labels},"states_tags":{states},"editors_tags":["user{e1}","user{e2}","roboto-app"],"_keywords":["biscuit","chocolat","produit","{btag}"],"codes_tags":["code-13","{code}","300000000xxxx"],"#,
        btag = brand.to_lowercase().replace(' ', "-"),
        q = 100 + rng.below(900),
        a = rng.below(99),
        b = rng.below(999),
        c = rng.below(999),
        scans = rng.below(500),
        rev = 1 + rng.below(40),
        created = 1_400_000_000 + rng.below(300_000_000),
        modified = 1_700_000_000 + rng.below(30_000_000),
        compl = rng.below(10),
        cats = tags(rng, CATEGORIES, 5),
        cats2 = tags(rng, CATEGORIES, 6),
        labels = tags(rng, LABELS, 2),
        states = tags(rng, STATES, 12),
        e1 = rng.below(10_000),
        e2 = rng.below(10_000),
    );
    let text: Vec<&str> = (0..10).map(|_| rng.pick(INGREDIENTS)).collect();
    let text = text.join(", ");
    let _ = write!(
        out,
        r#""ingredients_text":"{text}","ingredients_text_fr":"{text}","ingredients_text_en":"{text}","ingredients_text_with_allergens_fr":"<span class=\"allergen\">{text}</span>","ingredients":["#
    );
    for r in 0..12 {
        let name = rng.pick(INGREDIENTS);
        let pct = rng.below(400) as f64 / 10.0;
        let _ = write!(
            out,
            r#"{}{{"id":"en:{}","text":"{name}","rank":{},"percent_estimate":{pct},"percent_min":0,"percent_max":{pct},"vegan":"yes","vegetarian":"yes","is_in_taxonomy":1}}"#,
            if r > 0 { "," } else { "" },
            name.replace(' ', "-"),
            r + 1,
        );
    }
    out.push_str(r#"],"nutriments":{"#);
    for (k, n) in NUTRIENTS.iter().enumerate() {
        let v = rng.below(5000) as f64 / 10.0;
        let _ = write!(
            out,
            r#"{}"{n}":{v},"{n}_100g":{v},"{n}_serving":{s},"{n}_value":{v},"{n}_unit":"g""#,
            if k > 0 { "," } else { "" },
            s = v * 0.3,
        );
    }
    out.push_str(r#"},"nutrition_data_per":"100g","nutrition_data_prepared":"","nutriscore":{"2021":{"grade":"d","score":14,"data":{"energy":1800,"sugars":30,"saturated_fat":8,"sodium":400,"fiber":2,"proteins":6}},"2023":{"grade":"e","score":20}},"ecoscore_data":{"grade":"c","score":45,"adjustments":{"origins_of_ingredients":{"value":-5,"epi_score":0},"packaging":{"value":-8,"non_recyclable_and_non_biodegradable_materials":1},"production_system":{"value":0,"labels":[]},"threatened_species":{"value":-10,"ingredient":"en:palm-oil"}},"agribalyse":{"co2_total":2.1,"co2_agriculture":1.2,"co2_processing":0.4,"co2_packaging":0.2,"co2_transportation":0.2,"co2_distribution":0.05,"co2_consumption":0}},"packagings":[{"shape":{"id":"en:box"},"material":{"id":"en:cardboard"},"recycling":{"id":"en:recycle"},"number_of_units":1},{"shape":{"id":"en:bag"},"material":{"id":"en:plastic"},"number_of_units":2}],"images":{"uploaded":{"#);
    let n_images = 2 + rng.below(6);
    for img in 1..=n_images {
        let (w, h) = (1000 + rng.below(3000), 1000 + rng.below(3000));
        let _ = write!(
            out,
            r#"{}"{img}":{{"uploaded_t":{t},"uploader":"user{u}","sizes":{{"100":{{"w":75,"h":100,"url":"https://images.openfoodfacts.org/images/products/{code}/{img}.100.jpg"}},"400":{{"w":300,"h":400,"url":"https://images.openfoodfacts.org/images/products/{code}/{img}.400.jpg"}},"full":{{"w":{w},"h":{h},"url":"https://images.openfoodfacts.org/images/products/{code}/{img}.jpg"}}}}}}"#,
            if img > 1 { "," } else { "" },
            t = 1_500_000_000 + rng.below(200_000_000),
            u = rng.below(10_000),
        );
    }
    out.push_str(r#"},"selected":{"#);
    for (k, kind) in ["front", "ingredients", "nutrition"].iter().enumerate() {
        let _ = write!(
            out,
            r#"{}"{kind}":{{"fr":{{"imgid":{img},"rev":{rev},"sizes":{{"400":{{"w":300,"h":400,"url":"https://images.openfoodfacts.org/images/products/{code}/{kind}_fr.{rev}.400.jpg"}}}},"generation":{{"angle":0,"x1":-1,"y1":-1,"x2":-1,"y2":-1,"coordinates_image_size":"full","normalize":null,"white_magic":null}}}}}}"#,
            if k > 0 { "," } else { "" },
            img = 1 + rng.below(n_images),
            rev = 3 + rng.below(20),
        );
    }
    out.push_str("}}}");
}

fn write_dump(path: &PathBuf, products: u64, gzip: bool) -> std::io::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut sink: Box<dyn Write> = if gzip {
        Box::new(BufWriter::with_capacity(
            1 << 20,
            GzEncoder::new(file, Compression::fast()),
        ))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, file))
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut line = String::with_capacity(16 * 1024);
    let mut bytes = 0u64;
    for i in 0..products {
        product_line(i, &mut rng, &mut line);
        line.push('\n');
        bytes += line.len() as u64;
        sink.write_all(line.as_bytes())?;
    }
    sink.flush()?;
    drop(sink);
    Ok(bytes)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(db) = std::env::var("ROBOTOFF_BENCH_DATABASE_URL") else {
        eprintln!("ROBOTOFF_BENCH_DATABASE_URL is not set: run scripts/bench-import-products");
        return ExitCode::from(2);
    };
    let dir = std::env::temp_dir();
    let path = args.dump.clone().unwrap_or_else(|| {
        dir.join(if args.gzip {
            "robotoff-bench-products.jsonl.gz"
        } else {
            "robotoff-bench-products.jsonl"
        })
    });
    if !path.exists() {
        let clock = Instant::now();
        match write_dump(&path, args.products, args.gzip) {
            Ok(bytes) => println!(
                "wrote {} products ({:.0} MB of JSON, {:.0} MB on disk) to {} in {:.1} s",
                args.products,
                bytes as f64 / 1e6,
                std::fs::metadata(&path)
                    .map(|m| m.len() as f64 / 1e6)
                    .unwrap_or(0.0),
                path.display(),
                clock.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("error: writing {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    } else {
        println!("reusing {}", path.display());
    }
    let clock = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args(["import-products", "--quiet"])
        .args(&args.import)
        .arg(&path)
        .env("ROBOTOFF__DATABASE__URL", &db)
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: running robotoff: {e}");
            return ExitCode::from(2);
        }
    };
    let secs = clock.elapsed().as_secs_f64();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return ExitCode::from(1);
    }
    println!(
        "import-products: {} products in {secs:.1} s wall clock = {:.0} products/s (4M products ≈ {:.1} min)",
        args.products,
        args.products as f64 / secs,
        4_000_000.0 / (args.products as f64 / secs) / 60.0
    );
    ExitCode::SUCCESS
}
