"""`edge face enroll|list|remove`: manage the residents and watchlist galleries.

Enrolment is all-or-nothing per command: every photo must show exactly one face, large
enough to describe well, or nothing is written and the offending files are named. A
gallery built from group photos would silently enrol the wrong person.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli._common import CliError, add_json, fail, needs_models, os_reason, print_json
from edge.cli._table import table
from edge.vision.faces.cli import (
    add_gallery_args,
    add_model_args,
    gallery_path_from_args,
    registry_from_args,
    settings_from_args,
)

if TYPE_CHECKING:
    from edge.vision.faces.gallery import FaceGallery

GALLERIES = ("residents", "watchlist")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("face", help="enrol, list and remove people in the face galleries")
    fs = p.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    enroll = fs.add_parser("enroll", help="enrol a person from photos with exactly one face")
    enroll.add_argument("--gallery", choices=GALLERIES, default="residents")
    enroll.add_argument("--name", required=True, help="the person's display name")
    enroll.add_argument("--id", dest="person_id", help="person id (default: by name, or new)")
    enroll.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_model_args(enroll)
    add_gallery_args(enroll)
    add_json(enroll)
    enroll.set_defaults(handler=needs_models(_enroll))

    lst = fs.add_parser("list", help="list enrolled people")
    lst.add_argument("--gallery", choices=GALLERIES)
    add_model_args(lst)
    add_gallery_args(lst)
    add_json(lst)
    lst.set_defaults(handler=_list)

    remove = fs.add_parser("remove", help="remove a person from a gallery")
    remove.add_argument("--gallery", choices=GALLERIES, default="residents")
    who = remove.add_mutually_exclusive_group(required=True)
    who.add_argument("--id", dest="person_id", help="person id")
    who.add_argument("--name", help="person name (must be unique in the gallery)")
    add_model_args(remove)
    add_gallery_args(remove)
    add_json(remove)
    remove.set_defaults(handler=_remove)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _gallery(args: argparse.Namespace, command: str) -> FaceGallery | None:
    """The gallery keyed on the configured embedder, without loading any model."""
    from edge.vision.faces.gallery import FaceGallery

    try:
        registry = registry_from_args(args)
        spec = registry.pick("face_embedder", settings_from_args(args).embedder)
    except (OSError, ValueError) as exc:
        raise CliError(
            f"cannot read the model manifest ({os_reason(exc)}); run scripts/fetch-models "
            "or give --models-dir"
        ) from None
    dim = int(spec.outputs[0].shape[-1] or 0)
    model_key = f"{spec.name}:{spec.sha256[:12]}"
    return FaceGallery(gallery_path_from_args(args), model_key=model_key, dim=dim)


def _enroll(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelFileError

    unreadable = [str(p) for p in args.images if not p.is_file()]
    if unreadable:
        return fail(args, f"face enroll: cannot read {', '.join(unreadable)}", 2)
    try:
        settings = settings_from_args(args)
        pipeline = FacePipeline(registry_from_args(args), settings)
    except (ModelFileError, OSError, ValueError) as exc:
        return fail(args, f"face enroll: {exc}", 2)
    accepted = []
    problems = []
    for path in args.images:
        data = path.read_bytes()
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            return fail(args, f"face enroll: {path}: not an image", 2)
        image = np.asarray(decoded, dtype=np.uint8)
        faces = pipeline.detect(image)
        if not faces:
            problems.append(f"{path}: no face found")
        elif len(faces) > 1:
            problems.append(f"{path}: {len(faces)} faces found; use a photo of this person alone")
        elif min(faces[0].w, faces[0].h) < settings.enroll_min_face_px:
            problems.append(
                f"{path}: face is {min(faces[0].w, faces[0].h):.0f} px wide, "
                f"enrolment needs {settings.enroll_min_face_px:.0f}"
            )
        else:
            obs = pipeline.describe(image, faces)[0]
            accepted.append((path, obs.embedding, hashlib.sha256(data).hexdigest()))
    if problems:
        if args.json:
            print_json({"enrolled": False, "gallery": args.gallery, "name": args.name,
                        "person_id": None, "photos": 0, "rejected": problems})  # fmt: skip
        for line in problems:
            _err(f"rejected {line}")
        _err(f"face enroll: nothing enrolled ({len(problems)} of {len(args.images)} rejected)")
        return 1
    gallery = pipeline.open_gallery(gallery_path_from_args(args))
    person_id = args.person_id
    total = 0
    try:
        for _path, emb, sha in accepted:
            person_id, added = gallery.enroll(args.gallery, args.name, person_id, emb, sha)
            total += added
    except ValueError as exc:
        return fail(args, f"face enroll: {exc}", 1)
    skipped = len(accepted) - total
    note = f" ({skipped} already enrolled)" if skipped else ""
    if args.json:
        print_json({"enrolled": True, "gallery": args.gallery, "name": args.name,
                    "person_id": person_id, "photos": total, "rejected": []})  # fmt: skip
        return 0
    print(f"enrolled {args.name} ({person_id}) in {args.gallery}: {total} photo(s){note}")
    return 0


def _list(args: argparse.Namespace) -> int:
    gallery = _gallery(args, "list")
    if gallery is None:
        return 2
    rows = gallery.list(args.gallery)
    stale = sum(r.model != gallery.model_key for r in rows)
    if args.json:
        # [{"gallery", "person_id", "name", "photos", "last_enrolled", "model", "stale"}]
        print_json(
            [
                {"gallery": r.gallery, "person_id": r.person_id, "name": r.name,
                 "photos": r.embeddings, "last_enrolled": r.last_enrolled, "model": r.model,
                 "stale": r.model != gallery.model_key}
                for r in rows
            ]
        )  # fmt: skip
    elif not rows:
        print("no one enrolled")
    else:
        out = [
            [r.gallery, r.person_id, r.name, r.embeddings,
             f"{r.last_enrolled}" + ("" if r.model == gallery.model_key
                                     else f"  (stale: {r.model}; re-enrol)")]
            for r in rows
        ]  # fmt: skip
        print(table(["GALLERY", "ID", "NAME", "PHOTOS", "LAST ENROLLED"], out, "<<<><"))
    if stale:
        _err(f"{stale} entries were made with another embedding model and are not matched")
    return 0


def _remove(args: argparse.Namespace) -> int:
    gallery = _gallery(args, "remove")
    if gallery is None:
        return 2
    try:
        removed = gallery.remove(args.gallery, person_id=args.person_id, name=args.name)
    except ValueError as exc:
        return fail(args, f"face remove: {exc}")
    if removed == 0:
        return fail(args, f"face remove: no such person in {args.gallery}", 1)
    if args.json:
        print_json({"gallery": args.gallery, "removed": removed})
        return 0
    print(f"removed {removed} embedding(s) from {args.gallery}")
    return 0
