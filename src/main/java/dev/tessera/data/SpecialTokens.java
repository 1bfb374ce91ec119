package dev.tessera.data;

/**
 * Ids of BERT's special tokens in a vocabulary. {@link #TESSERA} is the layout
 * {@code WordPieceTrainer} writes ([PAD] [UNK] [CLS] [SEP] [MASK] = 0..4); {@link #BERT_UNCASED} is
 * bert-base-uncased's (0, 100, 101, 102, 103).
 */
public record SpecialTokens(int pad, int unk, int cls, int sep, int mask) {

    public static final SpecialTokens TESSERA = new SpecialTokens(0, 1, 2, 3, 4);
    public static final SpecialTokens BERT_UNCASED = new SpecialTokens(0, 100, 101, 102, 103);

    public boolean isSpecial(int id) {
        return id == pad || id == unk || id == cls || id == sep || id == mask;
    }
}
