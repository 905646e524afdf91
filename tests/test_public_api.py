"""The top-level namespace: every advertised name resolves, and the helpers are the library's own."""


def test_every_public_name_resolves_and_the_helpers_are_the_library_s_own():
    import langmodels as lm
    from langmodels.classify import classification_scores
    from langmodels.metrics import bleu

    assert all(getattr(lm, name) is not None for name in lm.__all__)
    assert (lm.self_bleu, lm.test_bleu, lm.corpus_bleu) == (
        bleu.texygen_self_bleu, bleu.texygen_test_bleu, bleu.sacrebleu_corpus)
    assert lm.continuation_bleu is bleu.continuation_bleu and lm.distinct_n is bleu.distinct_n
    assert lm.classification_scores is classification_scores
