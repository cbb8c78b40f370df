"""Builds the small `tokenizer.json` files of the test models (see ../README.md).

Run with the `tokenizers` package installed (`pip install tokenizers`):

    python tests/triton/model_dirs/make_tokenizers.py

The outputs are committed; the ids the test models react to are fixed here.
"""

import json
import pathlib

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

HERE = pathlib.Path(__file__).parent

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def build(vocab_fixed, words, path, lowercase=True):
    """A WordPiece tokenizer: `vocab_fixed` maps tokens to required ids, `words` get the
    free ids from 4 up; ids left over are `[unused N]` fillers."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update(vocab_fixed)
    taken = set(vocab.values())
    next_id = len(SPECIALS)
    for w in words:
        if w in vocab:
            continue
        while next_id in taken:
            next_id += 1
        vocab[w] = next_id
        taken.add(next_id)
    top = max(taken)
    for i in range(top + 1):
        if i not in taken:
            vocab[f"[unused{i}]"] = i
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="<unk>", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    tok.add_special_tokens(SPECIALS)
    tok.decoder = decoders.WordPiece()
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path), pretty=True)


# ingredient-ner: "ingredients" (any case, accents stripped) is the marker 1000 the test
# model reacts to, "." (1001) ends an ingredient list, ":" (1002) right after the marker
# is skipped.
NER_FIXED = {"ingredients": 1000, ".": 1001, ":": 1002}
NER_WORDS = """
, ; ( ) % - / & * 0 1 2 3 4 5 6 7 8 9
sugar wheat flour palm oil egg white emulsifier soy contains made in a facility that
uses milk salt water and of may traces nuts peanuts butter cocoa chocolate vanilla
natural flavour flavor lecithin lecithins sunflower rapeseed starch corn rice
sucre beurre de cacao poudre lait entier masse emulsifiant lecithines soja arome
naturel vanille minimum decor sel eau farine ble huile oeuf et peut contenir
zutaten zucker milch mehl weizen kakao
choco ##late ##s ##es ##ed pow ##der ##ing ##ine ##ines ##ant ##ier
""".split()

build(NER_FIXED, NER_WORDS, HERE / "ingredient-ner" / "tokenizer.json")

# nutrition_extractor: a nutrient word has id 2000 + k, k the id of its B- label (per
# serving, as on a US "Nutrition Facts" panel); value pieces (digits, units, ".") have ids
# 3000..3099. The test model labels the value pieces after a nutrient word.
NUTRITION_LABELS = {
    "calories": 63,  # B-ENERGY_KCAL_SERVING
    "fat": 65,  # B-FAT_SERVING
    "sodium": 17,  # B-SODIUM_SERVING
    "carbohydrate": 53,  # B-CARBOHYDRATES_SERVING
    "sugars": 61,  # B-SUGARS_SERVING
    "protein": 33,  # B-PROTEINS_SERVING
}
NUTRITION_FIXED = {w: 2000 + k for w, k in NUTRITION_LABELS.items()}
VALUE_PIECES = (
    [str(d) for d in range(10)]
    + [f"##{d}" for d in range(10)]
    + ["g", "##g", "mg", "##mg", ".", "kcal", "##kcal", "kj", "##kj", ","]
)
NUTRITION_FIXED.update({piece: 3000 + i for i, piece in enumerate(VALUE_PIECES)})
NUTRITION_WORDS = """
nutrition facts total serving size per container amount daily value % includes added
saturated trans cholesterol dietary fiber vitamin calcium iron potassium ( ) / : *
""".split()
build(NUTRITION_FIXED, NUTRITION_WORDS, HERE / "nutrition_extractor" / "tokenizer.json")
