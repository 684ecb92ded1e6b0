//! Importing the real Munich DLDB export (read from ../shared/data/munich) and the demo
//! knowledge folder; round trip through export.

use rathaus::catalogue;
use rathaus::store::{SqliteStore, Store};

use crate::helpers::repo;

fn munich() -> std::path::PathBuf {
    repo().join("../shared/data/munich")
}

#[tokio::test]
async fn munich_export_imports_cleanly_and_reimports_in_place() {
    let store = SqliteStore::connect(":memory:").await.unwrap();
    let dir = munich();
    let report = catalogue::import_dldb(
        &store,
        &dir.join("services_de.json"),
        &dir.join("locations_de.json"),
    )
    .await
    .unwrap();
    assert_eq!(report.added.len(), 287, "{report}");
    assert_eq!(report.offices, 109);
    assert!(report.skipped.is_empty(), "{report}");

    let entries = store.entries().await.unwrap();
    assert_eq!(entries.len(), 287);
    for e in &entries {
        for text in [&e.name, &e.summary, &e.description] {
            assert!(
                !text.contains("<p>")
                    && !text.contains("&nbsp;")
                    && !text.contains("&amp;")
                    && !text.contains('\u{200b}'),
                "{}: {text}",
                e.id
            );
        }
        assert!(
            e.links
                .source
                .as_deref()
                .is_some_and(|s| s.contains(e.id.as_str())),
            "{} has no source link",
            e.id
        );
    }
    // Empty descriptions are kept as empty, not as markup.
    assert!(entries.iter().filter(|e| e.description.is_empty()).count() >= 50);
    // Links inside prose stay usable, and offices are linked.
    let pa = entries.iter().find(|e| e.id.as_str() == "1063441").unwrap();
    assert!(
        pa.description.contains("Kontaktformular (https://"),
        "{}",
        pa.description
    );
    assert!(pa.fees.as_deref().unwrap().contains("46 Euro"));
    assert!(!pa.offices.is_empty());
    assert!(pa.keywords.iter().any(|k| k == "Perso"));

    let again = catalogue::import_dldb(
        &store,
        &dir.join("services_de.json"),
        &dir.join("locations_de.json"),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.added.len(), again.updated.len(), again.unchanged),
        (0, 0, 287)
    );
    assert_eq!(store.entries().await.unwrap().len(), 287);

    // The city's own example questions and keywords outlive a re-import of its export.
    let mut pa = pa.clone();
    pa.questions = vec!["Mein Perso läuft ab, was nun?".into()];
    pa.keywords.push("Ausweis abgelaufen".into());
    store.put_entries(&[pa], 1).await.unwrap();
    catalogue::import_dldb(
        &store,
        &dir.join("services_de.json"),
        &dir.join("locations_de.json"),
    )
    .await
    .unwrap();
    let kept = store.entries().await.unwrap();
    let pa = kept.iter().find(|e| e.id.as_str() == "1063441").unwrap();
    assert_eq!(pa.questions, ["Mein Perso läuft ab, was nun?"]);
    assert!(pa.keywords.iter().any(|k| k == "Ausweis abgelaufen"));
    assert!(
        pa.keywords.iter().any(|k| k == "Perso"),
        "the export's own keywords stay"
    );
}

#[tokio::test]
async fn a_broken_record_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("s.json");
    let locations = dir.path().join("l.json");
    std::fs::write(&services, r#"{"data": [{"id": "1", "name": "Gut", "description": "<p>Text</p>"}, {"id": "2"}, {"id": "x y", "name": "Böse Id"}]}"#).unwrap();
    std::fs::write(&locations, r#"{"data": []}"#).unwrap();
    let store = SqliteStore::connect(":memory:").await.unwrap();
    let report = catalogue::import_dldb(&store, &services, &locations)
        .await
        .unwrap();
    assert_eq!(report.added, ["1"]);
    assert_eq!(report.skipped.len(), 2, "{report}");
    assert!(report.skipped.iter().any(|s| s.id == "service 2"));
}

#[tokio::test]
async fn knowledge_folder_round_trips_through_export() {
    let store = SqliteStore::connect(":memory:").await.unwrap();
    let report = catalogue::import_files(&store, &repo().join("knowledge"))
        .await
        .unwrap();
    assert!(report.added.len() >= 30, "{report}");
    assert!(report.skipped.is_empty(), "{report}");
    let out = tempfile::tempdir().unwrap();
    catalogue::export_files(&store, out.path()).await.unwrap();

    let copy = SqliteStore::connect(":memory:").await.unwrap();
    let again = catalogue::import_files(&copy, out.path()).await.unwrap();
    assert!(again.skipped.is_empty(), "{again}");
    let (a, b) = (
        store.entries().await.unwrap(),
        copy.entries().await.unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.id, y.id);
        assert_eq!(x.description, y.description, "{}", x.id);
        assert_eq!(x.fees, y.fees);
        assert_eq!(x.documents, y.documents);
        assert_eq!(x.links, y.links);
        assert_eq!(x.offices, y.offices);
    }
    assert_eq!(
        store.offices().await.unwrap(),
        copy.offices().await.unwrap()
    );
    assert_eq!(
        store.synonyms("de").await.unwrap(),
        copy.synonyms("de").await.unwrap()
    );
}
