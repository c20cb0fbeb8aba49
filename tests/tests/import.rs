//! `hcp import`: a CSV of ratings under the provincial field names and a JSON-lines file of
//! service events, imported into a stopped platform in batches; killed in the middle and run
//! again, the import resumes from its checkpoint and records every rating exactly once; every
//! refused record is reported with its number and reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use chrono::{Days, Utc};
use hcp_e2e::{Server, Session, binary, run_hcp, start_seeded};
use serde_json::Value;

/// Rows of the CSV: enough that a batch of 500 is durable well before the file is done.
const ROWS: usize = 12_000;

/// A CSV of `ROWS` ratings of the fixture's department over the last 60 days (history), with
/// three rows the import must refuse and one repeat; returns the file and the ratings it
/// holds that are new.
fn write_csv(path: &Path, department: &str) -> usize {
    let today = Utc::now().date_naive();
    let mut text = String::from(
        "projectNo,serviceNumber,assessNumber,taskCode,taskName,deptCode,areaCode,satisfaction,pf,evalDetail,writingEvaluation,assessTime,userProp,userName,mobile\r\n",
    );
    let mut valid = 0;
    let mut rows = Vec::new();
    for row in 0..ROWS {
        let day = today - Days::new(1 + (row % 60) as u64);
        let (satisfaction, time) = match row {
            // Not a code of the provincial table.
            100 => ("9".to_string(), format!("{day} 10:00:00")),
            // Not a time.
            200 => ("5".to_string(), "yesterday".to_string()),
            _ => (
                ((row % 5) + 1).to_string(),
                format!("{day} {:02}:{:02}:00", 9 + row % 8, row % 60),
            ),
        };
        let comment = if row % 97 == 0 {
            "\"材料齐全，办理很快\n窗口人员说\"\"请慢走\"\"\"".to_string()
        } else {
            String::new()
        };
        let real = row % 3 == 0;
        rows.push(format!(
            "P{row:08},1,1,T-QYSL,企业设立登记,{department},410421,{satisfaction},{pf},{detail},{comment},{time},1,{name},{mobile}\r\n",
            pf = 1 + row % 4,
            // 差评 (1, 2) carry indicator codes.
            detail = if satisfaction == "1" || satisfaction == "2" { "\"501,502\"" } else { "" },
            name = if real { "张三" } else { "" },
            mobile = if real { "13800138000" } else { "" },
        ));
        if row != 100 && row != 200 {
            valid += 1;
        }
    }
    // A repeat of the second row: recorded once.
    rows.push(rows[1].clone());
    for row in rows {
        text.push_str(&row);
    }
    // An unknown task: refused by the store.
    text.push_str(&format!(
        "P99999999,1,1,T-NONE,,{department},410421,5,1,,,{} 10:00:00,1,,\r\n",
        today - Days::new(3)
    ));
    std::fs::write(path, text).unwrap();
    valid
}

fn import_command(data: &Path, config: &Path, file: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(binary("debug").unwrap());
    command
        .args(["import", "--source", "bf-devices", "--kind", "ratings"])
        .args(["--format", "csv", "--batch", "500"])
        .arg("--data")
        .arg(data)
        .arg("--config")
        .arg(config)
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_csv_import_resumes_and_records_every_rating_once() {
    let seeded = start_seeded("").await.unwrap();
    let config = seeded.dir.path().join("hcp.toml");
    let data = seeded.data.clone();
    let department = seeded.fixture.department.clone();
    let password = seeded.server.admin_password().unwrap();
    seeded.server.stop().unwrap();
    let file = seeded.dir.path().join("ratings.csv");
    let valid = write_csv(&file, &department);

    // Killed once its first batches are durable.
    let state = data.join("imports");
    let mut child = import_command(&data, &config, &file).spawn().unwrap();
    let checkpoint = loop {
        let found = std::fs::read_dir(&state)
            .ok()
            .and_then(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .find(|path| path.to_string_lossy().ends_with(".checkpoint.json"))
            })
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        if let Some(checkpoint) = found.filter(|saved| saved["records"].as_u64() > Some(0)) {
            break checkpoint;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended early"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(checkpoint["done"], false, "{checkpoint}");

    let output = import_command(&data, &config, &file).output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("resumed after record"), "{said}");
    let summary: Value = serde_json::from_str(
        std::fs::read_to_string(
            std::fs::read_dir(&state)
                .unwrap()
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.to_string_lossy().ends_with(".checkpoint.json"))
                .unwrap(),
        )
        .unwrap()
        .as_str(),
    )
    .unwrap();
    let refusals_file = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().ends_with(".refused.jsonl"))
        .unwrap();
    let refused = std::fs::read_to_string(refusals_file).unwrap();
    let head: String = refused.lines().take(5).collect::<Vec<_>>().join("\n");
    assert_eq!(summary["done"], true);
    assert_eq!(summary["refused"], 3, "{summary}\n{head}");
    assert_eq!(summary["records"], ROWS as u64 + 2, "{summary}");
    // Recorded in one run or the other (a batch made durable just before the kill is answered
    // as duplicates by the second), the repeat of the first row a duplicate.
    let recorded = summary["recorded"].as_u64().unwrap();
    let duplicates = summary["duplicates"].as_u64().unwrap();
    assert_eq!(recorded + duplicates, valid as u64 + 1, "{summary}");
    assert!(duplicates >= 1, "{summary}");
    assert!(said.contains("refused: 3"), "{said}");

    // Every refusal named with its record number and reason; no personal data in the report.
    let lines: Vec<Value> = refused
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let numbers: Vec<u64> = lines
        .iter()
        .map(|line| line["record"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [101, 201, ROWS as u64 + 2], "{refused}");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("satisfaction 9"),
        "{refused}"
    );
    assert!(
        lines[1]["message"].as_str().unwrap().contains("assessTime"),
        "{refused}"
    );
    assert_eq!(lines[2]["code"], "unknown_reference", "{refused}");
    assert!(!refused.contains("13800138000"));

    // A third run has nothing left to do.
    let output = import_command(&data, &config, &file).output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success() && said.contains("already imported"),
        "{said}"
    );

    // The platform counts every valid row once.
    let server = Server::start(&binary("debug").unwrap(), "serve", &data, Some(&config)).unwrap();
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let stats = admin
        .get(&format!(
            "/api/v1/stats?dim=department&unit={department}&from={}&to={today}",
            today - Days::new(70)
        ))
        .await
        .unwrap();
    assert_eq!(stats["metrics"]["ratings"], valid as u64, "{stats}");
    // The comment with a comma, quotes and a line break came through whole.
    let page = admin
        .get(&format!(
            "/api/v1/ratings?dim=department&unit={department}&from={}&to={today}&limit=500",
            today - Days::new(70)
        ))
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 500);
    assert!(
        items
            .iter()
            .any(|item| item["text"] == "材料齐全，办理很快\n窗口人员说\"请慢走\""),
        "{page}"
    );
    server.stop().unwrap();

    // Service events as canonical JSON lines: a malformed line is reported, the rest recorded.
    let events = seeded.dir.path().join("services.jsonl");
    let event = |n: u32| {
        serde_json::json!({
            "event_id": format!("svc-{n}"), "project_no": format!("S{n:06}"), "task_code": "T-QYSL",
            "department": department, "area_code": "410421", "service_number": 1,
            "service_name": "受理", "status": "accepted",
            "occurred_at": (Utc::now() - chrono::Duration::days(2)).to_rfc3339(),
            "window": "W-BF-01"
        })
        .to_string()
    };
    std::fs::write(
        &events,
        [event(1), "{\"event_id\": ".into(), String::new(), event(2)].join("\n"),
    )
    .unwrap();
    let (ok, said) = run_hcp(
        &[
            "import",
            "--source",
            "bf-devices",
            "--kind",
            "service-events",
            events.to_str().unwrap(),
        ],
        &data,
        Some(&config),
    )
    .unwrap();
    assert!(ok, "{said}");
    assert!(
        said.contains("3 records: recorded: 2, duplicates: 0, refused: 1"),
        "{said}"
    );
}
