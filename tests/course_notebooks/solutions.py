"""The student's parts of the course's starter notebooks (``*****START OF YOUR CODE`` to
``*****END OF YOUR CODE``), in the order they appear, per notebook file."""

SOLUTIONS: dict[str, list[str]] = {
    "knn_2019": [
        """\
X_train_folds = np.array_split(X_train, num_folds)
y_train_folds = np.array_split(y_train, num_folds)
""",
        """\
for k in k_choices:
    k_to_accuracies[k] = []
for fold in range(num_folds):
    X_tr = np.concatenate(X_train_folds[:fold] + X_train_folds[fold + 1:])
    y_tr = np.concatenate(y_train_folds[:fold] + y_train_folds[fold + 1:])
    fold_classifier = KNearestNeighbor()
    fold_classifier.train(X_tr, y_tr)
    fold_dists = fold_classifier.compute_distances_no_loops(X_train_folds[fold])
    for k in k_choices:
        y_fold_pred = fold_classifier.predict_labels(fold_dists, k=k)
        k_to_accuracies[k].append(np.mean(y_fold_pred == y_train_folds[fold]))
""",
    ],
}
